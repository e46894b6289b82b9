# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "timeout"

class DocsTest < FilaTest::Case
  EXAMPLE = "examples/fair.rb"
  FAIR = "acme globex initech acme globex initech acme globex initech acme acme acme acme acme\n"
  SDK_DIR = File.expand_path("..", __dir__)

  def docs
    [File.join(Fila::TestBroker.repo_root, "docs", "sdk-ruby.md"), File.join(SDK_DIR, "README.md")]
  end

  # The body of the first ``` block of +lang+ after +marker+ in the file at +path+.
  def fenced(path, marker, lang)
    text = File.read(path)
    at = text.index(marker) or flunk "#{path} has no #{marker.inspect}"
    block = text[at..][/```#{lang}\n(.*?)```/m, 1] or flunk "#{path} has no ```#{lang} block after #{marker.inspect}"
    block
  end

  # The example in the docs page and the README is the example file, to the byte.
  def test_docs_show_the_fair_example
    want = File.read(File.join(SDK_DIR, EXAMPLE))
    docs.each do |doc|
      assert_equal want, fenced(doc, "<!-- ruby-example: #{EXAMPLE} -->", "ruby"),
                   "the Ruby block in #{doc} differs from #{EXAMPLE}: copy the file into it"
    end
  end

  # The example runs against a real broker and prints what the docs say it prints.
  def test_fair_example_runs
    b = start_broker
    cmd = [RbConfig.ruby, "-I", File.join(SDK_DIR, "lib"), File.join(SDK_DIR, EXAMPLE)]
    out = err = status = nil
    Open3.popen3({ "FILA_ADDR" => b.addr }, *cmd) do |stdin, stdout, stderr, wait|
      stdin.close
      readers = [Thread.new { stdout.read }, Thread.new { stderr.read }]
      unless wait.join(60)
        Process.kill(:KILL, wait.pid)
        flunk "#{EXAMPLE} did not finish in 60s"
      end
      out, err = readers.map(&:value)
      status = wait.value
    end
    assert_predicate status, :success?, "#{EXAMPLE} failed:\n#{err}"
    assert_equal FAIR, out
    docs.each do |doc|
      assert_equal FAIR, fenced(doc, "<!-- ruby-output: #{EXAMPLE} -->", "text"),
                   "#{doc} shows another output than the example prints"
    end
  end
end
