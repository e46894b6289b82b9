# frozen_string_literal: true

require "openssl"

module Fila
  # Builds the channel credentials of a client: plain, TLS against the system's roots or a
  # private CA, and a client certificate for mutual TLS.
  module TLS
    module_function

    # @return [Symbol, GRPC::Core::ChannelCredentials]
    # @raise [Fila::InvalidArgument] for a file that cannot be read or PEM that is not one
    def credentials(tls: false, ca_cert: nil, ca_file: nil, cert: nil, key: nil, cert_file: nil,
                    key_file: nil)
      ca = ca_cert || (ca_file && read(ca_file, "CA file"))
      cert ||= cert_file && read(cert_file, "client certificate file")
      key ||= key_file && read(key_file, "client key file")
      return :this_channel_is_insecure unless tls || ca || cert || key
      raise InvalidArgument, "a client certificate needs its key (and the key its certificate)" if cert.nil? != key.nil?

      check_cert(ca, "CA certificate") if ca
      if cert
        check_cert(cert, "client certificate")
        begin
          OpenSSL::PKey.read(key)
        rescue OpenSSL::PKey::PKeyError, ArgumentError => e
          raise InvalidArgument, "client key: #{e.message}"
        end
      end
      GRPC::Core::ChannelCredentials.new(ca || system_roots, key, cert)
    end

    # The system's trusted roots, as OpenSSL finds them; nil lets gRPC use its own bundle.
    def system_roots
      [ENV["SSL_CERT_FILE"], OpenSSL::X509::DEFAULT_CERT_FILE].each do |path|
        return File.read(path) if path && File.file?(path) && File.readable?(path)
      end
      nil
    end

    def read(path, what)
      File.read(path)
    rescue SystemCallError => e
      raise InvalidArgument, "reading the #{what}: #{e.message}"
    end

    def check_cert(pem, what)
      raise InvalidArgument, "#{what}: no PEM certificate found" unless pem.include?("-----BEGIN CERTIFICATE-----")
      OpenSSL::X509::Certificate.new(pem)
    rescue OpenSSL::X509::CertificateError => e
      raise InvalidArgument, "#{what}: #{e.message}"
    end
  end
end
