package scan

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

// Identify connects once, without logging in, and describes the server:
// host, resolved addresses, greeting, TLS certificate (subject, issuer,
// SHA-256 fingerprint, expiry) and the capabilities offered before login.
// The caller prints it before the first probe and records it in the
// results, because the incident began with a console pointed at the wrong
// system.
//
// Errors are *SetupError (certificate, PREAUTH, missing mechanism) or
// network errors; both stop a scan before any mailbox is touched.
func Identify(ctx context.Context, cfg Config) (results.Target, error) {
	t := results.Target{Server: cfg.Server, TLS: string(cfg.TLS)}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return t, &SetupError{Msg: fmt.Sprintf("server %q: %v", cfg.Server, err), Hint: "give host:port, e.g. imap.example.net:993"}
	}
	t.Host = host
	to := cfg.Timeouts.withDefaults()
	rctx, cancel := context.WithTimeout(ctx, to.Connect)
	addrs, err := net.DefaultResolver.LookupHost(rctx, host)
	cancel()
	if err != nil {
		return t, &SetupError{Msg: fmt.Sprintf("resolve %s: %v", host, err), Hint: "check the --server name"}
	}
	sort.Strings(addrs)
	t.Addresses = addrs

	s, err := dial(ctx, &cfg, nil, "identify")
	if err != nil {
		if ge, ok := err.(*GreetingError); ok && ge.PreAuth {
			return t, &SetupError{Msg: ge.Error(), Hint: "point --server at the IMAP service that asks for a login"}
		}
		return t, fmt.Errorf("identify %s: %w", cfg.Server, err)
	}
	defer s.logout(ctx, to.Command)
	t.Connected = s.remote
	t.LocalAddr = s.local
	t.Greeting = s.greeting
	if s.tlsState != nil {
		describeCert(&t, s.tlsState, cfg.TLSConfig == nil || !cfg.TLSConfig.InsecureSkipVerify)
	}
	err = s.step(ctx, to.Greeting, "CAPABILITY", func() error {
		for c := range s.client.Caps() {
			t.Capabilities = append(t.Capabilities, string(c))
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("identify %s: %w", cfg.Server, err)
	}
	sort.Strings(t.Capabilities)
	return t, nil
}

func describeCert(t *results.Target, cs *tls.ConnectionState, verified bool) {
	if len(cs.PeerCertificates) == 0 {
		return
	}
	leaf := cs.PeerCertificates[0]
	t.CertSubject = leaf.Subject.String()
	t.CertIssuer = leaf.Issuer.String()
	t.CertSHA256 = Fingerprint(leaf.Raw)
	t.CertNotAfter = leaf.NotAfter.UTC().Format(time.RFC3339)
	t.Verified = verified
}

// Fingerprint is the SHA-256 of a DER certificate as colon-separated
// upper-case hex, the form openssl x509 -fingerprint -sha256 prints.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
