package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// TLS configures the embedded broker's optional TLS listener.
type TLS struct {
	// Addr is the listen address, such as 127.0.0.1:8883.
	Addr string
	// Listener, if set, is used instead of listening on Addr.
	Listener net.Listener
	// CertFile and KeyFile hold the server's PEM certificate (chain) and key.
	CertFile, KeyFile string
	// ClientCAFile, if set, holds the PEM certificates of the CAs that issue
	// client certificates. A client that presents a certificate they signed
	// is the station (or reader) named by its subject common name, and needs
	// no password; a client without one logs in with a password as on the
	// plain listener.
	ClientCAFile string
}

// handshakeTimeout bounds how long a TLS client may take to say hello.
const handshakeTimeout = 10 * time.Second

// config builds the server's tls.Config from the files.
func (t TLS) config() (*tls.Config, error) {
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, errors.New("TLS listener needs a certificate and a key file (mqtt.tls_cert, mqtt.tls_key)")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS client CA %s: no PEM certificate in it", t.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// listen opens the TLS listener.
func (t TLS) listen() (net.Listener, error) {
	cfg, err := t.config()
	if err != nil {
		return nil, err
	}
	ln := t.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", t.Addr); err != nil {
			return nil, err
		}
	}
	return tls.NewListener(ln, cfg), nil
}

// handshake completes a TLS connection's handshake within
// handshakeTimeout, so that the client certificate is known when the
// CONNECT packet is checked, and a client that never says hello does not
// hold a goroutine. Other connections pass unchanged.
func handshake(conn net.Conn) error {
	tc, ok := tlsConnOf(conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

// tlsConnOf finds the TLS connection under c, through wrappers that
// expose what they wrap with a NetConn method (as limitConn does).
func tlsConnOf(c net.Conn) (*tls.Conn, bool) {
	for range 8 {
		switch x := c.(type) {
		case *tls.Conn:
			return x, true
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}
