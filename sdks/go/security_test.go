package fila_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

// pki is a CA the test makes, and a server and a client certificate it signed, as PEM.
type pki struct {
	dir                             string
	caPEM, serverCert, serverKey    []byte
	clientCert, clientKey           []byte
	caFile, serverCertF, serverKeyF string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fila test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	p := &pki{dir: t.TempDir(), caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	p.serverCert, p.serverKey = leaf(2, "fila broker", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "fila client", x509.ExtKeyUsageClientAuth)
	p.caFile = p.write(t, "ca.pem", p.caPEM)
	p.serverCertF = p.write(t, "server.pem", p.serverCert)
	p.serverKeyF = p.write(t, "server.key", p.serverKey)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// quick is a context for a call expected to fail fast.
func quick(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestTLSWithACustomCA(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := testbroker.MustStart(t, testbroker.Options{Args: []string{"--tls-cert", p.serverCertF, "--tls-key", p.serverKeyF}})
	c := newClient(t, b.Addr, fila.WithCAFile(p.caFile))
	q := newQueue(t, c, nil)
	if _, err := c.Enqueue(ctx(t), q, []byte("over TLS"), nil); err != nil {
		t.Fatalf("Enqueue over TLS: %v", err)
	}
	// The same through "localhost", which the certificate also names.
	c2 := newClient(t, "localhost:"+itoa(b.Port), fila.WithCACert(p.caPEM))
	if _, err := c2.ListQueues(ctx(t)); err != nil {
		t.Fatalf("ListQueues via localhost: %v", err)
	}
	// A plain client, or one trusting only the system roots, cannot talk to it.
	plain := newClient(t, b.Addr, fila.WithRetry(fila.RetryPolicy{MaxAttempts: 1}))
	if _, err := plain.ListQueues(quick(t)); !errors.Is(err, fila.ErrUnavailable) {
		t.Fatalf("plain client against TLS: %v", err)
	}
	system := newClient(t, b.Addr, fila.WithTLS(), fila.WithRetry(fila.RetryPolicy{MaxAttempts: 1}))
	if _, err := system.ListQueues(quick(t)); !errors.Is(err, fila.ErrUnavailable) {
		t.Fatalf("system roots against a private CA: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := testbroker.MustStart(t, testbroker.Options{Args: []string{
		"--tls-cert", p.serverCertF, "--tls-key", p.serverKeyF, "--tls-ca", p.caFile}})
	c := newClient(t, b.Addr, fila.WithCACert(p.caPEM), fila.WithClientCert(p.clientCert, p.clientKey))
	q := newQueue(t, c, nil)
	enqueueN(t, c, q, 1, nil)
	cons := c.Lease(ctx(t), q, nil)
	defer cons.Close()
	if err := take(t, cons, 1, 10*time.Second)[0].AckWithResult().Get(ctx(t)); err != nil {
		t.Fatalf("ack over mTLS: %v", err)
	}
	// From files, too.
	certF, keyF := p.write(t, "client.pem", p.clientCert), p.write(t, "client.key", p.clientKey)
	c2 := newClient(t, b.Addr, fila.WithCAFile(p.caFile), fila.WithClientCertFiles(certF, keyF))
	if _, err := c2.ListQueues(ctx(t)); err != nil {
		t.Fatalf("client certificate from files: %v", err)
	}
	// Without a client certificate the broker refuses the connection.
	anon := newClient(t, b.Addr, fila.WithCACert(p.caPEM), fila.WithRetry(fila.RetryPolicy{MaxAttempts: 1}))
	if _, err := anon.ListQueues(quick(t)); !errors.Is(err, fila.ErrUnavailable) {
		t.Fatalf("no client certificate: %v", err)
	}
	if _, err := fila.NewClient(b.Addr, fila.WithClientCert([]byte("junk"), []byte("junk"))); err == nil {
		t.Fatal("a junk client certificate was accepted")
	}
}

func TestAPIKeysAndACLs(t *testing.T) {
	t.Parallel()
	const bootstrap = "test-bootstrap-key-0123456789" // made up for this test's broker
	b := testbroker.MustStart(t, testbroker.Options{Env: map[string]string{"FILA_BOOTSTRAP_APIKEY": bootstrap}})
	root := newClient(t, b.Addr, fila.WithAPIKey(bootstrap))
	q := newQueue(t, root, nil)

	none := newClient(t, b.Addr)
	if _, err := none.Enqueue(ctx(t), q, []byte("x"), nil); !errors.Is(err, fila.ErrUnauthenticated) {
		t.Fatalf("no key: %v", err)
	}
	wrong := newClient(t, b.Addr, fila.WithAPIKey("fila_nope_nope"))
	if _, err := wrong.ListQueues(ctx(t)); !errors.Is(err, fila.ErrUnauthenticated) {
		t.Fatalf("unknown key: %v", err)
	}

	id, key, err := root.CreateAPIKey(ctx(t), "worker", fila.APIKeyOptions{})
	if err != nil || id == "" || key == "" {
		t.Fatalf("CreateAPIKey: %q %q %v", id, key, err)
	}
	if err := root.SetACL(ctx(t), id, []fila.Permission{{Kind: fila.PermConsume, Pattern: q}}); err != nil {
		t.Fatal(err)
	}
	perms, super, err := root.GetACL(ctx(t), id)
	if err != nil || super || len(perms) != 1 || perms[0] != (fila.Permission{Kind: fila.PermConsume, Pattern: q}) {
		t.Fatalf("GetACL: %v %v %v", perms, super, err)
	}
	keys, err := root.ListAPIKeys(ctx(t))
	if err != nil || len(keys) != 1 || keys[0].ID != id || keys[0].Name != "worker" || keys[0].CreatedAt.IsZero() {
		t.Fatalf("ListAPIKeys: %+v %v", keys, err)
	}

	worker := newClient(t, b.Addr, fila.WithAPIKey(key))
	if _, err := worker.Enqueue(ctx(t), q, []byte("x"), nil); !errors.Is(err, fila.ErrPermissionDenied) {
		t.Fatalf("consume-only key enqueueing: %v", err)
	}
	if err := worker.CreateQueue(ctx(t), q+"-2", nil); !errors.Is(err, fila.ErrPermissionDenied) {
		t.Fatalf("consume-only key creating a queue: %v", err)
	}
	enqueueN(t, root, q, 1, nil)
	cons := worker.Lease(ctx(t), q, nil)
	defer cons.Close()
	if err := take(t, cons, 1, 10*time.Second)[0].AckWithResult().Get(ctx(t)); err != nil {
		t.Fatalf("consume-only key acking: %v", err)
	}
	other := worker.Lease(ctx(t), q+"-elsewhere", nil)
	<-other.Done()
	if !errors.Is(other.Err(), fila.ErrPermissionDenied) {
		t.Fatalf("leasing a queue the key may not consume: %v", other.Err())
	}

	if err := root.RevokeAPIKey(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.ListQueues(ctx(t)); !errors.Is(err, fila.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
