package simulators

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// tlsFront puts a TLS listener with a fresh self-signed certificate for
// 127.0.0.1 in front of a plain broker, and returns its ssl:// URL and the
// certificate's PEM file.
func tlsFront(t *testing.T, broker string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "envmon test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u, _ := url.Parse(broker)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer b.Close()
				go func() { io.Copy(b, c); b.Close() }()
				io.Copy(c, b)
			}()
		}
	}()
	return "ssl://" + ln.Addr().String(), caFile
}

// TestTLS: stations reach a TLS broker trusting --tls-ca, and a dropout
// over TLS still makes the broker publish the last will; an untrusted
// certificate is refused unless --tls-insecure.
func TestTLS(t *testing.T) {
	plain := startBroker(t)
	sub := subscribe(t, plain)
	tlsURL, ca := tlsFront(t, plain)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	run := func(tr Transport) error {
		f, err := NewFleet(FleetConfig{
			Transport: tr,
			Clock:     Clock{Start: start, Wall: time.Now(), Speed: 600},
			End:       start.Add(4 * time.Minute),
			Stations: []StationConfig{{ID: "tls-" + strings.TrimPrefix(tr.ClientIDPrefix, "p"), Point: "p", Media: []reading.Medium{reading.Air},
				Episodes: []Episode{{Kind: Dropout, From: start.Add(3 * time.Minute)}}}},
		})
		if err != nil {
			return err
		}
		defer f.Close(false)
		return f.Run(context.Background())
	}
	if err := run(Transport{Broker: tlsURL, QoS: 1, TLSCA: ca, ClientIDPrefix: "p1"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "three readings over TLS and the last will", func() bool {
		st := sub.on("envmon/p/tls-1/status")
		return len(sub.on("envmon/p/tls-1/air")) == 3 && len(st) > 0 && st[len(st)-1] == "offline"
	})
	if err := run(Transport{Broker: tlsURL, QoS: 1, ClientIDPrefix: "p2"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: err %v", err)
	}
	if err := run(Transport{Broker: tlsURL, QoS: 1, TLSInsecure: true, ClientIDPrefix: "p3"}); err != nil {
		t.Errorf("--tls-insecure: %v", err)
	}
}
