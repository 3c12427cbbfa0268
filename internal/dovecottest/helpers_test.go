package dovecottest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// dial opens a plain IMAP connection to s, closed when the test ends.
func dial(t *testing.T, s *Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WaitGreeting(); err != nil {
		t.Fatalf("greeting from %s: %v", s.Addr, err)
	}
	return c
}

// masterLogin dials s and logs in to user's mailbox with the master user.
func masterLogin(t *testing.T, s *Server, user string) *imapclient.Client {
	t.Helper()
	c := dial(t, s)
	if err := c.Login(user+"*"+s.MasterUser, s.MasterPassword).Wait(); err != nil {
		t.Fatalf("master login to %q: %v", user, err)
	}
	return c
}

// serverTLSConfig trusts s's CA only.
func serverTLSConfig(t *testing.T, s *Server, serverName string) *tls.Config {
	t.Helper()
	pemData, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("no certificate in %s", s.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName}
}

// imapErr returns err as *imap.Error, or fails the test.
func imapErr(t *testing.T, err error) *imap.Error {
	t.Helper()
	var ie *imap.Error
	if !errors.As(err, &ie) {
		t.Fatalf("got error %v (%T), want *imap.Error", err, err)
	}
	return ie
}

// fetchAll fetches opts for every message of the selected mailbox.
func fetchAll(t *testing.T, c *imapclient.Client, opts *imap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return msgs
}
