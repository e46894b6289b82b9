# frozen_string_literal: true

require "openssl"

module FilaTest
  # A CA the test makes, and a server and a client certificate it signed (P-256 keys), as
  # PEM strings and files in +dir+. The server certificate names 127.0.0.1 and localhost.
  class PKI
    attr_reader :ca_pem, :server_cert, :server_key, :client_cert, :client_key,
                :ca_file, :server_cert_file, :server_key_file, :client_cert_file, :client_key_file

    def initialize(dir)
      @dir = dir
      @ca_key = OpenSSL::PKey::EC.generate("prime256v1")
      @ca = certificate(1, "fila test CA", @ca_key, nil) do |ext, cert|
        cert.add_extension(ext.create_extension("basicConstraints", "CA:TRUE", true))
        cert.add_extension(ext.create_extension("keyUsage", "keyCertSign,cRLSign,digitalSignature", true))
      end
      @ca_pem = @ca.to_pem
      @server_cert, @server_key = leaf(2, "fila broker", "serverAuth")
      @client_cert, @client_key = leaf(3, "fila client", "clientAuth")
      @ca_file = write("ca.pem", @ca_pem)
      @server_cert_file = write("server.pem", @server_cert)
      @server_key_file = write("server.key", @server_key)
      @client_cert_file = write("client.pem", @client_cert)
      @client_key_file = write("client.key", @client_key)
    end

    # `fila serve` flags for TLS with this server certificate (and, with +mtls+, requiring
    # client certificates signed by this CA).
    def serve_args(mtls: false)
      args = ["--tls-cert", @server_cert_file, "--tls-key", @server_key_file]
      mtls ? args + ["--tls-ca", @ca_file] : args
    end

    private

    def leaf(serial, name, usage)
      key = OpenSSL::PKey::EC.generate("prime256v1")
      cert = certificate(serial, name, key, @ca) do |ext, c|
        c.add_extension(ext.create_extension("basicConstraints", "CA:FALSE", true))
        c.add_extension(ext.create_extension("keyUsage", "digitalSignature", true))
        c.add_extension(ext.create_extension("extendedKeyUsage", usage))
        c.add_extension(ext.create_extension("subjectAltName", "DNS:localhost,IP:127.0.0.1"))
      end
      [cert.to_pem, key.private_to_pem]
    end

    def certificate(serial, name, key, issuer)
      cert = OpenSSL::X509::Certificate.new
      cert.version = 2
      cert.serial = serial
      cert.subject = OpenSSL::X509::Name.parse("/CN=#{name}")
      cert.issuer = issuer ? issuer.subject : cert.subject
      cert.public_key = key
      cert.not_before = Time.now - 3600
      cert.not_after = Time.now + 86_400
      ext = OpenSSL::X509::ExtensionFactory.new
      ext.subject_certificate = cert
      ext.issuer_certificate = issuer || cert
      yield ext, cert
      cert.add_extension(ext.create_extension("subjectKeyIdentifier", "hash"))
      cert.sign(issuer ? @ca_key : key, OpenSSL::Digest.new("SHA256"))
      cert
    end

    def write(name, data)
      path = File.join(@dir, name)
      File.write(path, data, perm: 0o600)
      path
    end
  end
end
