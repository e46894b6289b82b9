//! Starts and stops real `fila serve` processes for the tests (and the bench).
//!
//! A broker listens on 127.0.0.1:0 (the OS picks a free port); the port is read from its
//! "listening on 127.0.0.1:<port>" log line, polled with a deadline. By default the broker
//! is this repository's `.venv/bin/fila` (made by scripts/setup_env.sh); FILA_SERVER_CMD
//! replaces that command (e.g. a built `fila` executable) and gets `serve ...` appended.
//!
//! Each broker runs under a small `sh` guardian that kills it when its stdin (a pipe from
//! this process) closes: a broker never outlives the test process, even when the tests
//! panic or are killed, and a shared broker needs no destructor.
#![allow(dead_code)] // the bench uses part of it

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a broker gets to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

// (An asynchronous list's stdin is /dev/null: the watcher reads the pipe through fd 3.)
const GUARDIAN: &str = r#"log=$1; cleanup=$2; shift 2
exec 3<&0
"$@" 3<&- </dev/null >>"$log" 2>&1 &
pid=$!
( read -r _ignored <&3; kill -9 "$pid" 2>/dev/null ) &
wait "$pid"
echo "fila serve exited with status $?" >>"$log"
[ -z "$cleanup" ] || rm -rf "$cleanup"
"#;

/// How to start a broker.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra `fila serve` flags, e.g. `--tls-cert F --tls-key F`.
    pub args: Vec<String>,
    /// Extra environment variables, e.g. FILA_BOOTSTRAP_APIKEY.
    pub env: Vec<(String, String)>,
    /// Let the guardian remove the broker's files once the broker is gone: for a broker that
    /// is never dropped, like the tests' shared one.
    pub for_the_process: bool,
}

/// One running (or stopped) broker on a data dir; killed when dropped.
pub struct Broker {
    pub addr: String,
    pub port: u16,
    pub data_dir: PathBuf,
    opts: Options,
    work_dir: PathBuf,
    log_path: PathBuf,
    offset: usize,
    child: Option<(Child, ChildStdin)>,
}

/// The repository's root: the first directory up from this crate holding proto/fila/v1.
pub fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("proto/fila/v1/service.proto").exists() {
        assert!(dir.pop(), "no proto/fila/v1 above {}", env!("CARGO_MANIFEST_DIR"));
    }
    dir
}

/// The command that runs `fila` (before `serve ...`).
pub fn command() -> Result<Vec<String>, String> {
    if let Ok(cmd) = std::env::var("FILA_SERVER_CMD") {
        let parts: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        if !parts.is_empty() {
            return Ok(parts);
        }
    }
    let fila = repo_root().join(".venv/bin/fila");
    if !fila.exists() {
        return Err(format!(
            "no broker at {}: run scripts/setup_env.sh (or set FILA_SERVER_CMD)",
            fila.display()
        ));
    }
    Ok(vec![fila.display().to_string()])
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn temp_dir() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fila-rust-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating a temp dir");
    dir
}

impl Broker {
    /// Starts a broker on a new temporary data dir and waits until it listens.
    pub fn start(opts: Options) -> Result<Broker, String> {
        let work_dir = temp_dir();
        let mut b = Broker {
            addr: String::new(),
            port: 0,
            data_dir: work_dir.join("data"),
            log_path: work_dir.join("fila.log"),
            work_dir,
            opts,
            offset: 0,
            child: None,
        };
        b.spawn(0)?;
        Ok(b)
    }

    /// [`start`](Broker::start), panicking (failing the test) if the broker cannot start:
    /// a missing broker is a failure, never a skip.
    pub fn must_start(opts: Options) -> Broker {
        Broker::start(opts).unwrap_or_else(|e| panic!("starting fila serve: {e}"))
    }

    fn spawn(&mut self, port: u16) -> Result<(), String> {
        let base = command()?;
        self.offset = std::fs::read(&self.log_path).map_or(0, |d| d.len());
        let mut cmd = Command::new("sh");
        let cleanup =
            if self.opts.for_the_process { self.work_dir.as_os_str() } else { "".as_ref() };
        cmd.arg("-c").arg(GUARDIAN).arg("sh").arg(&self.log_path).arg(cleanup).args(&base);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", "off"]);
        cmd.arg("--data-dir").arg(&self.data_dir).args(&self.opts.args);
        cmd.current_dir(&self.work_dir); // no stray ./fila.toml is picked up
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FILA_")) {
            cmd.env_remove(k); // not this process's broker settings
        }
        cmd.envs(self.opts.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| format!("running sh for {}: {e}", base[0]))?;
        let stdin = child.stdin.take().expect("piped stdin");
        self.child = Some((child, stdin));
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some((host, port)) = listening(&self.log()) {
                self.port = port;
                self.addr = format!("{host}:{port}");
                return Ok(());
            }
            if let Some((child, _)) = &mut self.child {
                if let Ok(Some(_)) = child.try_wait() {
                    return Err(format!("fila serve exited before listening:\n{}", self.log()));
                }
            }
            std::thread::sleep(Duration::from_millis(20)); // polling the log, with a deadline
        }
        self.kill();
        Err(format!("fila serve did not listen within {START_TIMEOUT:?}:\n{}", self.log()))
    }

    /// What the broker logged since it last started.
    pub fn log(&self) -> String {
        let data = std::fs::read(&self.log_path).unwrap_or_default();
        String::from_utf8_lossy(data.get(self.offset..).unwrap_or_default()).into_owned()
    }

    /// Stops the broker with SIGKILL (like a crash) and waits until it has exited.
    pub fn kill(&mut self) {
        if let Some((mut child, mut stdin)) = self.child.take() {
            let _ = stdin.write_all(b"stop\n");
            drop(stdin); // the guardian kills the broker, then exits
            let _ = child.wait();
        }
    }

    /// Kills the broker and starts it again on the same data dir and port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let port = self.port;
        self.spawn(port)
    }

    /// The directory of the broker's files, for a test's own (certificates, config).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// The address in a "listening on 127.0.0.1:5555, data in ..." log line.
fn listening(log: &str) -> Option<(String, u16)> {
    let at = log.find("listening on ")? + "listening on ".len();
    let addr: String = log[at..].chars().take_while(|c| !c.is_whitespace() && *c != ',').collect();
    let (host, port) = addr.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}
