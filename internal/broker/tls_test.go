package broker

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
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for cn: a server's for 127.0.0.1, or a
// client's.
func (ca *testCA) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writePEM writes a certificate and its key as PEM files.
func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLSListener: over the TLS listener a station logs in with a client
// certificate whose common name is its id, or with its password; a
// certificate from another CA, or naming no account, gets nowhere.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server CA"), newCA(t, "station CA"), newCA(t, "someone else")
	certFile, keyFile := writePEM(t, dir, "server", serverCA.issue(t, "envmon", true))
	caFile := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(caFile, clientCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startGuarded(t, Config{TLS: &TLS{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}})
	in := watch(t, b, "#")
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	url := "ssl://" + LocalHostPort(b.TLSAddr())
	withCert := func(c ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots, Certificates: c, MinVersion: tls.VersionTLS12}
	}

	// c-1 has no password: its certificate is its only way in.
	c := pahoConnect(t, pahoOptionsAt(url, "c-1-tls", "", "").SetTLSConfig(withCert(clientCA.issue(t, "c-1", false))))
	publish(t, c, "envmon/p1/st-1/air") // as another station
	publish(t, c, "envmon/p2/c-1/air")
	if got := in.waitFor(t, "envmon/p2/c-1/air"); slices.Contains(got, "envmon/p1/st-1/air") {
		t.Error("certificate c-1 published as st-1")
	}

	// A password works over TLS too, without a certificate.
	pahoConnect(t, pahoOptionsAt(url, "st-1-tls", "st-1", "pw-1").SetTLSConfig(withCert()))

	refused := []struct {
		name     string
		user, pw string
		cert     tls.Certificate
	}{
		{"certificate of another CA", "", "", otherCA.issue(t, "c-1", false)},
		{"certificate naming no account", "", "", clientCA.issue(t, "st-9", false)},
		{"username other than the certificate's", "st-1", "pw-1", clientCA.issue(t, "c-1", false)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cl := paho.NewClient(pahoOptionsAt(url, "x-tls", tt.user, tt.pw).SetTLSConfig(withCert(tt.cert)))
			tok := cl.Connect()
			if !tok.WaitTimeout(10 * time.Second) {
				t.Fatal("connect did not finish")
			}
			if tok.Error() == nil {
				cl.Disconnect(0)
				t.Fatal("connected")
			}
		})
	}
	// The plain listener knows nothing of certificates.
	if code := connackCode(t, b, 5, "c-1-plain", "c-1", "", ""); code != 0x86 {
		t.Errorf("c-1 without certificate on the plain listener: CONNACK 0x%02x, want 0x86", code)
	}
}

// TestTLSConfigErrors: a TLS listener without its files does not start.
func TestTLSConfigErrors(t *testing.T) {
	for _, tc := range []TLS{
		{Addr: "127.0.0.1:0"},
		{Addr: "127.0.0.1:0", CertFile: "missing.crt", KeyFile: "missing.key"},
	} {
		if b, err := Start(Config{Addr: "127.0.0.1:0", TLS: &tc}); err == nil {
			b.Close()
			t.Errorf("Start with TLS %+v: no error", tc)
		}
	}
}
