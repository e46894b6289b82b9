# frozen_string_literal: true

require "fileutils"
require "tmpdir"

module Fila
  # Starts and stops a real `fila serve` process, for the SDK's tests and its bench.
  #
  # The broker listens on 127.0.0.1:0 (the OS picks a free port) and the port is read from
  # its "listening on 127.0.0.1:<port>" log line, polled with a deadline. By default the
  # broker is this repository's, from its venv (../../.venv/bin/fila, made by
  # scripts/setup_env.sh); FILA_SERVER_CMD replaces that command (e.g. a built `fila`
  # executable) and gets `serve ...` appended.
  class TestBroker
    # How long a broker gets to print its listening line.
    START_TIMEOUT = 30
    LISTENING = /listening on (\S+):(\d+)/.freeze

    class StartError < StandardError; end

    # Brokers still running when this process exits (an interrupted test run) are killed:
    # they run in process groups of their own, so nothing else would stop them.
    # (The hook is set at the first start: Ruby runs exit hooks last-in first-out, and the
    # tests run from minitest's own.)
    LIVE = {}.compare_by_identity
    LIVE_LOCK = Mutex.new

    def self.track(broker)
      exiting = LIVE_LOCK.synchronize do
        @exit_hook ||= at_exit do
          # Other threads may still start brokers while the process exits: track kills those.
          live = LIVE_LOCK.synchronize do
            @exiting = true
            LIVE.keys
          end
          live.each(&:cleanup)
        end
        LIVE[broker] = true
        @exiting
      end
      broker.cleanup if exiting
    end

    attr_reader :addr, :port, :data_dir, :work_dir

    # The repository's root: the first directory up from here holding proto/fila/v1.
    def self.repo_root
      dir = File.expand_path(__dir__)
      until File.file?(File.join(dir, "proto", "fila", "v1", "service.proto"))
        parent = File.dirname(dir)
        raise StartError, "cannot find the repository root (proto/fila/v1) above #{__dir__}" if parent == dir
        dir = parent
      end
      dir
    end

    # The command that runs `fila` (before `serve ...`).
    def self.command
      custom = ENV["FILA_SERVER_CMD"].to_s.split
      return custom unless custom.empty?
      fila = File.join(repo_root, ".venv", "bin", "fila")
      unless File.executable?(fila)
        raise StartError, "no broker at #{fila}: run scripts/setup_env.sh (or set FILA_SERVER_CMD)"
      end
      [fila]
    end

    # Starts a broker and waits until it listens; with a block, yields it and cleans up.
    def self.start(**opts)
      broker = new(**opts)
      begin
        broker.start
      rescue StandardError
        broker.cleanup
        raise
      end
      return broker unless block_given?
      begin
        yield broker
      ensure
        broker.cleanup
      end
    end

    # @param args [Array<String>] extra `fila serve` flags, e.g. --tls-cert F --tls-key F
    # @param env [Hash] extra environment, e.g. FILA_BOOTSTRAP_APIKEY
    # @param data_dir [String, nil] the data directory (default: a new temporary one)
    def initialize(args: [], env: {}, data_dir: nil)
      @args = args
      @env = env
      @work_dir = Dir.mktmpdir("fila-ruby-test-")
      @data_dir = data_dir || File.join(@work_dir, "data")
      @log_path = File.join(@work_dir, "fila.log")
      @offset = 0
      @pid = nil
    end

    # Starts the broker on +port+ (0: any free one) and waits for its listening line.
    def start(port = 0)
      cmd = self.class.command
      @offset = File.exist?(@log_path) ? File.size(@log_path) : 0
      log = File.open(@log_path, "a")
      @pid = Process.spawn(environment, *cmd, "serve", "--listen", "127.0.0.1:#{port}",
                           "--data-dir", @data_dir, "--metrics-listen", "off", *@args,
                           # its own process group (killed whole), its own cwd (no stray fila.toml)
                           chdir: @work_dir, out: log, err: log, in: File::NULL, pgroup: true)
      self.class.track(self)
      log.close
      wait_listening
      self
    rescue SystemCallError => e
      raise StartError, "running #{cmd&.first}: #{e.message}"
    end

    # What the broker logged since it last started.
    def log
      data = File.binread(@log_path)
      data.bytesize < @offset ? "" : data.byteslice(@offset..)
    rescue SystemCallError
      ""
    end

    # @return [Boolean]
    def running?
      return false unless @pid
      Process.waitpid(@pid, Process::WNOHANG).nil?
    rescue Errno::ECHILD
      false
    end

    # Stops the broker with SIGKILL (like a crash) and waits for it to exit.
    def kill
      return unless @pid
      begin
        Process.kill(:KILL, -@pid)
        Process.waitpid(@pid)
      rescue Errno::ESRCH, Errno::ECHILD
        nil
      end
      @pid = nil
      LIVE_LOCK.synchronize { LIVE.delete(self) }
    end

    # Kills the broker and starts it again on the same data dir and port.
    def restart
      kill
      start(@port)
    end

    # Kills the broker and removes its temporary files.
    def cleanup
      kill
      FileUtils.rm_rf(@work_dir)
    end

    private

    # This process's environment without the broker's own FILA_ settings, plus the extra.
    def environment
      env = ENV.keys.grep(/\AFILA_/).to_h { |k| [k, nil] }
      env.merge(@env.transform_keys(&:to_s).transform_values(&:to_s))
    end

    def wait_listening
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + START_TIMEOUT
      while Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
        if (m = LISTENING.match(log))
          @port = m[2].to_i
          @addr = "127.0.0.1:#{@port}"
          return
        end
        raise StartError, "fila serve exited before listening:\n#{log}" unless running?
        sleep 0.02 # polling the log file, bounded by the deadline
      end
      kill
      raise StartError, "fila serve did not listen within #{START_TIMEOUT}s:\n#{log}"
    end
  end
end
