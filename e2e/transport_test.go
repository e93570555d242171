package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/pipeline/embedded"
	"github.com/invsync/invsync/server"
)

// testCA is a throwaway certificate authority for the transport tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "invsync test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a leaf certificate for 127.0.0.1 (server and client use)
// and its key under dir, returning their paths.
func (ca *testCA) issue(t *testing.T, dir, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// TestHTTPS: with --tls-cert the API is HTTPS only; with --tls-client-ca a
// client without a certificate from that CA is refused at the handshake.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certPath, keyPath := ca.issue(t, dir, "server")
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA = certPath, keyPath, caPath
	in := newInstance(t, cfg)
	base := in.url
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("the URL of an instance with --tls-cert is %s", base)
	}

	clientCert, clientKey := ca.issue(t, dir, "device")
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{pair}}}}
	testkit.Eventually(t, 60*time.Second, testkit.Ready(withCert, base), "HTTPS instance not ready")
	req, _ := http.NewRequest("GET", base+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := withCert.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPS with a client certificate: %v %v", resp, err)
	}
	resp.Body.Close()
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	if resp, err := noCert.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate was served")
	}
	if resp, err := http.Get("http://" + in.srv.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the HTTPS port")
		}
	}
}

// TestKafkaSASL: the embedded broker can require SASL; serve connects with
// the right credentials, and with a wrong password fails at start-up with
// one line naming the mechanism and user.
func TestKafkaSASL(t *testing.T) {
	if externalBrokers() != nil {
		t.Skip("SASL is tested against the embedded broker; the Kafka of KAFKA_BROKERS has a plaintext listener")
	}
	for _, mech := range []string{"SCRAM-SHA-256", "PLAIN"} {
		b, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true,
			SASL: &embedded.SASLUser{Mechanism: mech, User: "invsync", Password: "s3cret-" + mech}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		good := testConfig(t)
		good.Brokers = []string{b.Addr()}
		good.Kafka = saslConfig(t, mech, "invsync", "s3cret-"+mech)
		in := startInstance(t, good)
		var res api.UploadResponse
		if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", secUploadIT(), &res); code != 200 || res.Results[0].Outcome == nil || res.Results[0].Outcome.Status != "applied" {
			t.Fatalf("%s: upload through a SASL broker: %d %+v", mech, code, res)
		}
		in.stop()

		bad := testConfig(t)
		bad.Brokers = []string{b.Addr()}
		bad.Kafka = saslConfig(t, mech, "invsync", "wrong")
		bad.Logger = testLogger(t, "error")
		srv, err := server.New(bad)
		if err != nil {
			t.Fatal(err)
		}
		err = srv.Run(t.Context())
		if err == nil || !strings.Contains(err.Error(), mech) || !strings.Contains(err.Error(), `"invsync"`) || !strings.Contains(err.Error(), "INVSYNC_KAFKA_SASL_PASSWORD") {
			t.Fatalf("%s with a wrong password: %v, want a start-up error naming the mechanism, the user and the password variable", mech, err)
		}
	}
}

func saslConfig(t *testing.T, mech, user, pass string) server.KafkaSecurity {
	t.Helper()
	opts, errs := server.KafkaSecurityOpts("false", "", mech, user, pass)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return server.KafkaSecurity{Opts: opts, Mechanism: mech, User: user, Password: pass}
}

// secUploadIT is one receipt of the test catalog's item.
func secUploadIT() api.UploadRequest {
	return api.UploadRequest{ScannerID: "SCANNER-08", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: []api.Transaction{{
		TransactionID: "sasl-1", Type: "RECEIPT", Timestamp: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		WarehouseID: "WH-001", ItemID: "ITEM-10001", LocationID: "A-01-01", Quantity: 3}}}
}
