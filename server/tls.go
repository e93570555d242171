package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// serverTLS loads the HTTPS certificate and, with --tls-client-ca, requires
// client certificates signed by that CA.
func serverTLS(cfg Options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading --tls-cert %s and --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.TLSClientCA != "" {
		pool, err := loadPool(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// loadPool reads a PEM bundle into a certificate pool.
func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// peerTLS is how this instance calls its peers over HTTPS: it trusts the
// system's roots, its own certificate (instances often share one) and the
// client CA, and presents its own certificate where peers require one. Nil
// without --tls-cert.
func (s *Server) peerTLS() *tls.Config {
	srv := s.tls
	if srv == nil {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range srv.Certificates {
		for _, der := range c.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				pool.AddCert(cert)
			}
		}
	}
	if s.cfg.TLSClientCA != "" {
		if pem, err := os.ReadFile(s.cfg.TLSClientCA); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
	}
	out := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if srv.ClientAuth == tls.RequireAndVerifyClientCert {
		out.Certificates = srv.Certificates
	}
	return out
}
