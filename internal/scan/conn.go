package scan

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// session is one IMAP connection whose every step runs under a deadline.
type session struct {
	client   *imapclient.Client
	conn     net.Conn // what the client reads and writes (TLS already applied)
	greeting string   // the greeting line without "* ", e.g. "OK [CAPABILITY ...] Dovecot ready."
	tlsState *tls.ConnectionState
	remote   string
	local    string
	cork     *corkConn // between the client and conn
	// bye is a LOGOUT already written behind the last commands (see
	// counter.last); logout then only waits for its answer.
	bye *imapclient.Command
}

// corkConn holds the client's writes while corked and sends them in one
// write when uncorked: pipelined commands (go-imap writes each on its own)
// then leave in one segment, which saves system calls here and reads on
// the server. Only for commands that need no answer before the next one
// is written: a synchronizing literal would wait for the server's "+"
// forever.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) corkWrites() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what was held. When that fails the connection is closed:
// the commands held were never sent, and their answers, which the caller
// waits for next, must end in an error instead of never coming.
func (c *corkConn) uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return
	}
	if _, err := c.Conn.Write(c.buf); err != nil {
		c.Conn.Close()
	}
	c.buf = c.buf[:0]
}

// greetingReadLimit bounds the greeting line; a server sending more without
// CRLF is not an IMAP server.
const greetingReadLimit = 8192

// dial connects, secures and reads the greeting. The returned session's
// client is ready for CAPABILITY and login. PREAUTH and BYE greetings are
// errors (*GreetingError): the scanner must log in as each mailbox itself.
func dial(ctx context.Context, cfg *Config, trace *tracer, label string) (*session, error) {
	to := cfg.Timeouts.withDefaults()
	s := &session{}

	dctx, cancel := context.WithTimeout(ctx, to.Connect)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", cfg.Server)
	if err != nil {
		return nil, classifyNetErr("connect", to.Connect, dctx, err)
	}
	s.remote = raw.RemoteAddr().String()
	s.local = raw.LocalAddr().String()
	conn := raw

	tlsConf := tlsConfigFor(cfg, &s.tlsState)
	if cfg.TLS == TLSImplicit {
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, classifyNetErr("TLS handshake", to.Connect, dctx, err)
		}
		conn = tc
	}

	// The greeting is read by hand (not by imapclient) so its text can be
	// recorded and, for STARTTLS, so the upgrade happens before the client
	// exists and the trace sees plaintext on both sides of it.
	gctx, gcancel := context.WithTimeout(ctx, to.Greeting)
	defer gcancel()
	stop := context.AfterFunc(gctx, func() { conn.Close() })
	br := bufio.NewReaderSize(conn, 4096)
	line, err := readLine(br)
	if err != nil {
		stop()
		conn.Close()
		return nil, classifyNetErr("read greeting", to.Greeting, gctx, err)
	}
	s.greeting = strings.TrimPrefix(line, "* ")
	if gerr := greetingError(s.greeting); gerr != nil {
		stop()
		conn.Close()
		return nil, gerr
	}

	if cfg.TLS == TLSStartTLS {
		if _, err := io.WriteString(conn, "S0 STARTTLS\r\n"); err != nil {
			stop()
			conn.Close()
			return nil, classifyNetErr("STARTTLS", to.Greeting, gctx, err)
		}
		for {
			resp, err := readLine(br)
			if err != nil {
				stop()
				conn.Close()
				return nil, classifyNetErr("STARTTLS", to.Greeting, gctx, err)
			}
			if strings.HasPrefix(resp, "S0 ") {
				if !strings.HasPrefix(strings.ToUpper(resp), "S0 OK") {
					stop()
					conn.Close()
					return nil, &SetupError{Msg: "server refused STARTTLS: " + resp, Hint: "use --tls implicit (port 993) or check the server's TLS settings"}
				}
				break
			}
		}
		if br.Buffered() > 0 {
			stop()
			conn.Close()
			return nil, &ProtocolError{Step: "STARTTLS", Msg: "server sent data before the TLS handshake (possible injection)"}
		}
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(gctx); err != nil {
			stop()
			conn.Close()
			return nil, classifyNetErr("TLS handshake", to.Greeting, gctx, err)
		}
		conn = tc
		br = bufio.NewReaderSize(conn, 4096)
		// The pre-TLS capabilities must not be trusted (RFC 9051 6.2.1);
		// replaying the greeting without them makes the client ask again.
		line = "* " + stripCapability(s.greeting)
	}
	if !stop() {
		conn.Close()
		return nil, classifyNetErr("read greeting", to.Greeting, gctx, context.DeadlineExceeded)
	}

	var rw net.Conn = &replayConn{Conn: conn, r: io.MultiReader(strings.NewReader(line+"\r\n"), br)}
	if trace != nil {
		rw = trace.wrap(rw, label)
	}
	s.conn = rw
	s.cork = &corkConn{Conn: rw}
	s.client = imapclient.New(s.cork, nil)
	if err := s.step(ctx, to.Greeting, "greeting", func() error { return s.client.WaitGreeting() }); err != nil {
		s.close()
		return nil, wrapCommandErr("greeting", err)
	}
	return s, nil
}

func tlsConfigFor(cfg *Config, state **tls.ConnectionState) *tls.Config {
	var c *tls.Config
	if cfg.TLSConfig != nil {
		c = cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		if host, _, err := net.SplitHostPort(cfg.Server); err == nil {
			c.ServerName = host
		}
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	prev := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		*state = &cs
		if prev != nil {
			return prev(cs)
		}
		return nil
	}
	return c
}

// readLine reads one CRLF-terminated line without the line ending.
func readLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		b.Write(chunk)
		if b.Len() > greetingReadLimit {
			return "", &ProtocolError{Step: "greeting", Msg: fmt.Sprintf("line longer than %d bytes", greetingReadLimit)}
		}
		if !isPrefix {
			return b.String(), nil
		}
	}
}

func stripCapability(greeting string) string {
	up := strings.ToUpper(greeting)
	i := strings.Index(up, "[CAPABILITY ")
	if i < 0 {
		return greeting
	}
	j := strings.Index(greeting[i:], "]")
	if j < 0 {
		return greeting
	}
	return strings.TrimSpace(greeting[:i] + strings.TrimLeft(greeting[i+j+1:], " "))
}

// step runs fn with a deadline. When the deadline or ctx ends first, the
// connection is closed (which makes the blocked go-imap call return) and
// the error says which step timed out.
func (s *session) step(ctx context.Context, d time.Duration, what string, fn func() error) error {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stop := context.AfterFunc(sctx, func() { s.conn.Close() })
	err := fn()
	if stop() {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return &TimeoutError{Step: what, After: d}
}

func (s *session) close() {
	if s.client != nil {
		s.client.Close()
	} else if s.conn != nil {
		s.conn.Close()
	}
}

// logout says goodbye politely but never waits long for it.
func (s *session) logout(ctx context.Context, d time.Duration) {
	if d > 5*time.Second {
		d = 5 * time.Second
	}
	_ = s.step(ctx, d, "LOGOUT", func() error {
		if s.bye == nil {
			s.bye = s.client.Logout()
		}
		return s.bye.Wait()
	})
	s.close()
}

// replayConn reads from r (the replayed greeting, then the connection) and
// writes to the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func classifyNetErr(step string, d time.Duration, ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &TimeoutError{Step: step, After: d}
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return err
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return &SetupError{Msg: fmt.Sprintf("%s: %v", step, err), Hint: "pass --ca-file with the server's CA, or --insecure-skip-verify if you have checked the fingerprint by other means"}
	}
	return &NetError{Step: step, Err: err}
}
