# frozen_string_literal: true

require_relative "test_helper"
require_relative "support/pki"
require "tmpdir"

class SecurityTest < FilaTest::Case
  NO_RETRY = { max_attempts: 1 }.freeze

  def pki
    @pki ||= FilaTest::PKI.new(Dir.mktmpdir("fila-ruby-pki-").tap { |d| @to_close << TmpDir.new(d) })
  end

  # Removes a directory at teardown.
  TmpDir = Struct.new(:path) do
    def cleanup = FileUtils.rm_rf(path)
  end

  def test_tls_with_a_custom_ca
    b = start_broker(args: pki.serve_args)
    c = new_client(b.addr, ca_file: pki.ca_file)
    q = new_queue(c)
    refute_empty c.enqueue(q, "over TLS")
    # The same through "localhost", which the certificate also names, trusting the PEM.
    via_name = new_client("localhost:#{b.port}", ca_cert: pki.ca_pem)
    assert_includes via_name.list_queues.map(&:name), q
    # A plain client, or one trusting only the system roots, cannot talk to it.
    plain = new_client(b.addr, retry_policy: NO_RETRY)
    assert_raises(Fila::Unavailable) { plain.list_queues(timeout: 3) }
    system = new_client(b.addr, tls: true, retry_policy: NO_RETRY)
    assert_raises(Fila::Unavailable) { system.list_queues(timeout: 3) }
  end

  def test_mutual_tls
    b = start_broker(args: pki.serve_args(mtls: true))
    c = new_client(b.addr, ca_cert: pki.ca_pem, cert: pki.client_cert, key: pki.client_key)
    q = new_queue(c)
    enqueue_n(c, q, 1)
    consumer = c.lease(q)
    assert_nil take(consumer, 1).first.ack.value(10), "ack over mTLS"
    assert consumer.close
    # From files, too.
    files = new_client(b.addr, ca_file: pki.ca_file, cert_file: pki.client_cert_file, key_file: pki.client_key_file)
    assert_includes files.list_queues.map(&:name), q
    # Without a client certificate the broker refuses the connection.
    anon = new_client(b.addr, ca_cert: pki.ca_pem, retry_policy: NO_RETRY)
    assert_raises(Fila::Unavailable) { anon.list_queues(timeout: 3) }
    assert_raises(Fila::InvalidArgument) { Fila::Client.new(b.addr, ca_cert: pki.ca_pem, cert: "junk", key: "junk") }
    assert_raises(Fila::InvalidArgument) { Fila::Client.new(b.addr, cert: pki.client_cert) }
  end

  def test_api_keys_and_acls
    bootstrap = "test-bootstrap-key-0123456789" # made up for this test's broker
    b = start_broker(env: { "FILA_BOOTSTRAP_APIKEY" => bootstrap })
    root = new_client(b.addr, api_key: bootstrap)
    q = new_queue(root)

    assert_raises(Fila::Unauthenticated) { new_client(b.addr).enqueue(q, "x") }
    assert_raises(Fila::Unauthenticated) { new_client(b.addr, api_key: "fila_nope_nope").list_queues }

    created = root.create_api_key("worker")
    refute_empty created.id
    refute_empty created.key
    root.set_acl(created.id, [{ kind: "consume", pattern: q }])
    acl = root.get_acl(created.id)
    assert_equal [[Fila::Permission.new("consume", q)], false], [acl.permissions, acl.superadmin]
    keys = root.list_api_keys
    assert_equal [[created.id, "worker", false]], keys.map { |k| [k.id, k.name, k.superadmin] }
    assert_kind_of Time, keys.first.created_at

    worker = new_client(b.addr, api_key: created.key)
    assert_raises(Fila::PermissionDenied) { worker.enqueue(q, "x") }
    assert_raises(Fila::PermissionDenied) { worker.create_queue("#{q}-2") }
    enqueue_n(root, q, 1)
    consumer = worker.lease(q)
    assert_nil take(consumer, 1).first.ack.value(10), "a consume-only key acks"
    assert consumer.close
    other = worker.lease("#{q}-elsewhere")
    assert_raises(Fila::PermissionDenied) { other.next(timeout: 10) }

    root.revoke_api_key(created.id)
    assert_raises(Fila::Unauthenticated) { worker.list_queues }
  end
end
