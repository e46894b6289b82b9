// Package testbroker starts and stops a real `fila serve` process for the SDK's tests.
//
// The broker listens on 127.0.0.1:0 (the OS picks a free port) and the port is read from
// its "listening on 127.0.0.1:<port>" log line, polled with a deadline. By default the
// broker is this repository's Python package run from its venv (../../.venv, made by
// scripts/setup_env.sh); FILA_SERVER_CMD replaces that command (e.g. a built `fila`
// executable), and gets `serve ...` appended.
package testbroker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartTimeout is how long a broker gets to print its listening line.
const StartTimeout = 30 * time.Second

var listening = regexp.MustCompile(`listening on (\S+):(\d+)`)

// Options say how to start a broker.
type Options struct {
	// Args are extra `fila serve` flags, e.g. --tls-cert F --tls-key F.
	Args []string
	// Env are extra environment variables, e.g. FILA_BOOTSTRAP_APIKEY.
	Env map[string]string
	// DataDir is the data directory (default: a new temporary one).
	DataDir string
}

// Broker is one running (or stopped) broker process on a data dir.
type Broker struct {
	Addr    string // 127.0.0.1:<port>
	Port    int
	DataDir string

	opts    Options
	workDir string
	logPath string
	offset  int64
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start starts a broker and waits until it listens. The caller must Kill it.
func Start(opts Options) (*Broker, error) {
	work, err := os.MkdirTemp("", "fila-go-test-")
	if err != nil {
		return nil, err
	}
	b := &Broker{opts: opts, workDir: work, logPath: filepath.Join(work, "fila.log"), DataDir: opts.DataDir}
	if b.DataDir == "" {
		b.DataDir = filepath.Join(work, "data")
	}
	if err := b.start(0); err != nil {
		_ = os.RemoveAll(work)
		return nil, err
	}
	return b, nil
}

// MustStart starts a broker for one test, fails the test if it cannot, and kills the
// broker when the test ends.
func MustStart(t testing.TB, opts Options) *Broker {
	t.Helper()
	b, err := Start(opts)
	if err != nil {
		t.Fatalf("starting fila serve: %v", err)
	}
	t.Cleanup(b.Cleanup)
	return b
}

// Command is the command that runs `fila` (before `serve ...`).
func Command() ([]string, error) {
	if cmd := strings.Fields(os.Getenv("FILA_SERVER_CMD")); len(cmd) > 0 {
		return cmd, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	py := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return nil, fmt.Errorf("no Python venv at %s: run scripts/setup_env.sh (or set FILA_SERVER_CMD)", py)
	}
	return []string{py, "-m", "fila"}, nil
}

// RepoRoot is the repository's root: the first directory up from here holding proto/fila/v1.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "proto", "fila", "v1", "service.proto")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (proto/fila/v1) above the working directory")
		}
		dir = parent
	}
}

func (b *Broker) start(port int) error {
	base, err := Command()
	if err != nil {
		return err
	}
	args := append(base[1:len(base):len(base)], "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--data-dir", b.DataDir, "--metrics-listen", "off")
	args = append(args, b.opts.Args...)
	log, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	if st, err := log.Stat(); err == nil {
		b.offset = st.Size()
	}
	cmd := exec.Command(base[0], args...)
	cmd.Dir = b.workDir // no stray ./fila.toml is picked up
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = environ(b.opts.Env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", base[0], err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(b.exited)
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(b.Log()); m != nil {
			b.Port, _ = strconv.Atoi(m[2])
			b.Addr = "127.0.0.1:" + m[2]
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("fila serve exited (%v) before listening:\n%s", cmd.ProcessState, b.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	b.Kill()
	return fmt.Errorf("fila serve did not listen within %s:\n%s", StartTimeout, b.Log())
}

// environ is this process's environment without the broker's own FILA_ settings, plus extra.
func environ(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FILA_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// Log is what the broker logged since it last started.
func (b *Broker) Log() string {
	data, err := os.ReadFile(b.logPath)
	if err != nil || int64(len(data)) < b.offset {
		return ""
	}
	return string(data[b.offset:])
}

// Kill stops the broker with SIGKILL (like a crash) and waits for it to exit.
func (b *Broker) Kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.exited:
	default:
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
	}
}

// Restart kills the broker and starts it again on the same data dir and port.
func (b *Broker) Restart() error {
	b.Kill()
	return b.start(b.Port)
}

// Cleanup kills the broker and removes its temporary files.
func (b *Broker) Cleanup() {
	b.Kill()
	_ = os.RemoveAll(b.workDir)
}
