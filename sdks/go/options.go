package fila

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
)

// Option configures a Client (see NewClient).
type Option func(*clientOptions)

// DefaultTimeout is the deadline given to a call whose context has none (WithTimeout).
const DefaultTimeout = 30 * time.Second

type clientOptions struct {
	apiKey    string
	tls       bool
	tlsConfig *tls.Config
	caPEM     [][]byte
	certs     []tls.Certificate
	timeout   time.Duration
	retry     RetryPolicy
	ackLinger time.Duration
	ackMax    int
	dialOpts  []grpc.DialOption
	errs      []error
}

func defaultClientOptions() clientOptions {
	return clientOptions{
		timeout:   DefaultTimeout,
		retry:     DefaultRetryPolicy,
		ackLinger: time.Millisecond,
		ackMax:    1000,
	}
}

// WithAPIKey sends key as `authorization: Bearer <key>` metadata on every call, as a broker
// with API keys on requires.
func WithAPIKey(key string) Option {
	return func(o *clientOptions) { o.apiKey = key }
}

// WithTimeout sets the deadline of a call whose context has none (default DefaultTimeout).
// A context with its own deadline always wins, so a single call can have a shorter or longer
// one: ctx, cancel := context.WithTimeout(ctx, time.Second). 0 means no default deadline.
// Retries (see RetryPolicy) happen within the deadline.
func WithTimeout(d time.Duration) Option {
	return func(o *clientOptions) { o.timeout = d }
}

// WithRetry sets how calls are retried when the broker is unavailable (see RetryPolicy).
func WithRetry(p RetryPolicy) Option {
	return func(o *clientOptions) { o.retry = p }
}

// WithTLS turns TLS on and verifies the broker's certificate against the system's roots
// (and any CA added with WithCACert or WithCAFile).
func WithTLS() Option {
	return func(o *clientOptions) { o.tls = true }
}

// WithTLSConfig turns TLS on with cfg as the base configuration (cloned): for a server name,
// cipher suites, or a custom verification. WithCACert and WithClientCert add to it.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *clientOptions) {
		o.tls = true
		if cfg != nil {
			o.tlsConfig = cfg.Clone()
		}
	}
}

// WithCACert turns TLS on and trusts the PEM-encoded CA certificate(s) in pem, instead of
// the system's roots: for a broker whose certificate a private CA signed.
func WithCACert(pem []byte) Option {
	return func(o *clientOptions) {
		o.tls = true
		o.caPEM = append(o.caPEM, pem)
	}
}

// WithCAFile is WithCACert with the PEM read from a file.
func WithCAFile(path string) Option {
	return func(o *clientOptions) {
		pem, err := os.ReadFile(path)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("fila: reading CA file: %w", err))
			return
		}
		WithCACert(pem)(o)
	}
}

// WithClientCert turns TLS on and presents the PEM-encoded certificate and key to the
// broker: mutual TLS, for a broker started with a client CA (--tls-ca).
func WithClientCert(certPEM, keyPEM []byte) Option {
	return func(o *clientOptions) {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("fila: client certificate: %w", err))
			return
		}
		o.tls = true
		o.certs = append(o.certs, cert)
	}
}

// WithClientCertFiles is WithClientCert with the PEM files read from disk.
func WithClientCertFiles(certFile, keyFile string) Option {
	return func(o *clientOptions) {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("fila: client certificate: %w", err))
			return
		}
		o.tls = true
		o.certs = append(o.certs, cert)
	}
}

// WithAckBatching sets how Message.Ack, Message.Nack, Client.Ack and Client.Nack are batched
// into AckBatch / NackBatch RPCs: when no batch is in flight for a queue an ack goes at once;
// while one is, acks gather for up to linger or until max of them wait (defaults 1ms, 1000).
func WithAckBatching(linger time.Duration, max int) Option {
	return func(o *clientOptions) {
		o.ackLinger = linger
		o.ackMax = max
	}
}

// WithDialOptions passes extra options to grpc.NewClient (interceptors, keepalive, a
// custom dialer, ...). They are applied after the SDK's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *clientOptions) { o.dialOpts = append(o.dialOpts, opts...) }
}

// tlsConfig builds the client TLS configuration, or nil for a plain connection.
func (o *clientOptions) tlsClientConfig() (*tls.Config, error) {
	if !o.tls {
		return nil, nil
	}
	cfg := o.tlsConfig
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if len(o.caPEM) > 0 {
		pool := cfg.RootCAs
		if pool == nil {
			pool = x509.NewCertPool()
		}
		for _, pem := range o.caPEM {
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errors.New("fila: no certificate found in the CA PEM")
			}
		}
		cfg.RootCAs = pool
	}
	cfg.Certificates = append(cfg.Certificates, o.certs...)
	cfg.NextProtos = nil // gRPC sets h2 itself
	return cfg, nil
}
