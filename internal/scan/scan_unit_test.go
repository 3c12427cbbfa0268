package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/impact-ops/impact/internal/inventory"
)

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"timeout", &TimeoutError{Step: "LIST", After: time.Second}, true},
		{"reset", &NetError{Step: "LIST", Err: syscall.ECONNRESET}, true},
		{"refused wrapped", fmt.Errorf("probe x: %w", &NetError{Step: "connect", Err: syscall.ECONNREFUSED}), true},
		{"bye greeting", &GreetingError{Greeting: "BYE Too many connections"}, true},
		{"preauth greeting", &GreetingError{Greeting: "PREAUTH hi", PreAuth: true}, false},
		{"unavailable", &CommandError{Step: "login", Err: &imap.Error{Type: imap.StatusResponseTypeNo, Code: "UNAVAILABLE", Text: "Maximum number of connections from user+IP exceeded"}}, true},
		{"throttled text", &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Throttled, try again later"}, true},
		{"login refused", &LoginRefused{Code: "AUTHORIZATIONFAILED"}, false},
		{"credentials", &CredentialsError{Code: "AUTHENTICATIONFAILED"}, false},
		{"setup", &SetupError{Msg: "x"}, false},
		{"protocol", &ProtocolError{Step: "LIST", Msg: "bad utf7"}, false},
		{"plain NO", &CommandError{Step: "examine", Err: &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Mailbox doesn't exist"}}, false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestSuggestedBackoff(t *testing.T) {
	tests := []struct {
		text string
		want time.Duration
	}{
		{"Too many connections, try again in 30 seconds", 30 * time.Second},
		{"Throttled: retry after 2 min", 2 * time.Minute},
		{"[UNAVAILABLE] Temporary failure", 0},
	}
	for _, tt := range tests {
		if got := SuggestedBackoff(errors.New(tt.text)); got != tt.want {
			t.Errorf("SuggestedBackoff(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestGreeting(t *testing.T) {
	tests := []struct {
		greeting string
		preauth  bool
		isErr    bool
	}{
		{"OK [CAPABILITY IMAP4rev1] Dovecot ready.", false, false},
		{"PREAUTH IMAP4rev1 logged in as root", true, true},
		{"BYE Too many connections", false, true},
		{"SSH-2.0-OpenSSH_9.2", false, true},
	}
	for _, tt := range tests {
		err := greetingError(tt.greeting)
		if (err != nil) != tt.isErr {
			t.Errorf("greetingError(%q) = %v", tt.greeting, err)
		}
		var ge *GreetingError
		if errors.As(err, &ge) && ge.PreAuth != tt.preauth {
			t.Errorf("greetingError(%q) preauth = %v", tt.greeting, ge.PreAuth)
		}
	}
	if got := stripCapability("OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready."); got != "OK Dovecot ready." {
		t.Errorf("stripCapability = %q", got)
	}
}

// A pipe pair stands in for the network: the trace sees exactly the bytes
// the client writes and reads.
func TestTraceRedactsCredentials(t *testing.T) {
	var out bytes.Buffer
	tr := newTracer(&out)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := tr.wrap(a, "jane@isp.example")
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	for _, s := range []string{
		"T1 LOGIN \"jane@isp.example*ops\" \"s3cret-master\"\r\n",
		"T2 AUTHENTICATE PLAIN amFuZQBvcHMAczNjcmV0\r\n",
		"T3 AUTHENTICATE PLAIN\r\n",
		"amFuZQBvcHMAczNjcmV0LWxpdGVyYWw=\r\n",
		"T4 LOGIN {16}\r\n", "jane@isp.example {13}\r\n", "literal-pw123\r\n",
		"T5 LIST \"\" \"*\"\r\n",
	} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(s, "T2") || strings.HasPrefix(s, "amFu") || strings.HasPrefix(s, "literal") || strings.HasPrefix(s, "T1") {
			// The server's tagged answer ends the credential exchange.
			tag := map[byte]string{'1': "T1", '2': "T2"}[s[1]]
			if strings.HasPrefix(s, "amFu") {
				tag = "T3"
			}
			if strings.HasPrefix(s, "literal") {
				tag = "T4"
			}
			tc := c.(*traceConn)
			tc.mu.Lock()
			tc.in.WriteString(tag + " OK Logged in\r\n")
			for _, l := range takeLines(&tc.in) {
				if tc.credTag != "" && strings.HasPrefix(l, tc.credTag+" ") {
					tc.credTag = ""
				}
			}
			tc.mu.Unlock()
		}
	}
	got := out.String()
	for _, secret := range []string{"s3cret", "amFuZQBvcHMAczNjcmV0", "literal-pw123", "ops\""} {
		if strings.Contains(got, secret) {
			t.Errorf("trace leaks %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{"T1 LOGIN [redacted]", "T2 AUTHENTICATE PLAIN [redacted]", "T3 AUTHENTICATE", "T5 LIST \"\" \"*\""} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}

// serve accepts connections on a loopback port until the test ends and
// hands each to handle, which closes it.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// silentServer accepts connections and never says a word: the scan must
// give up on the greeting, not hang.
func silentServer(t *testing.T) string {
	return serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c); c.Close() })
}

func TestSilentServerTimesOut(t *testing.T) {
	addr := silentServer(t)
	p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "ops", MasterPassword: "pw",
		Cutoff: time.Now(), Timeouts: Timeouts{Greeting: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "a@isp.example", AccountID: "1"}))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Step != "read greeting" {
		t.Fatalf("err = %v, want a greeting timeout", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s", el)
	}
	if rec.Login.Outcome != "error" || !strings.Contains(rec.Error, "no answer within") {
		t.Errorf("record %+v", rec)
	}
	if !IsTransient(err) {
		t.Error("a greeting timeout must be retried")
	}

	// The whole run ends too, with every mailbox recorded.
	var outs []Outcome
	entries := []inventory.Entry{
		inventory.NewEntry(inventory.Fields{Mailbox: "a@x", AccountID: "1"}),
		inventory.NewEntry(inventory.Fields{Mailbox: "b@x", AccountID: "2"}),
		inventory.NewEntry(inventory.Fields{Mailbox: "c@x", AccountID: "3"}),
	}
	err = Run(context.Background(), p, entries, RunConfig{Workers: 2, Attempts: 2, Backoff: 10 * time.Millisecond, LoginRate: 1000}, func(o Outcome) error {
		outs = append(outs, o)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(outs) != 3 {
		t.Fatalf("%d outcomes, want 3", len(outs))
	}
	for _, o := range outs {
		if len(o.Record.Attempts) != 1 || !strings.Contains(o.Record.Attempts[0], "attempt 1") {
			t.Errorf("%s attempts %q, want one retry recorded", o.Record.Mailbox, o.Record.Attempts)
		}
	}
}

func TestBreakerStopsOnDistress(t *testing.T) {
	b := &breaker{rc: RunConfig{Window: 4, DistressShare: 0.75, Pause: time.Millisecond}.withDefaults()}
	fault := Outcome{Err: &TimeoutError{Step: "login", After: time.Second}}
	var err error
	for i := 0; i < 8 && err == nil; i++ {
		err = b.observe(fault)
	}
	var se *StopError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "distress") {
		t.Fatalf("err = %v, want a distress stop", err)
	}
	if b.trips != 2 {
		t.Errorf("trips = %d, want a pause before the stop", b.trips)
	}

	c := &breaker{rc: RunConfig{}.withDefaults()}
	cred := Outcome{Err: &CredentialsError{Code: "AUTHENTICATIONFAILED"}}
	_ = c.observe(cred)
	_ = c.observe(cred)
	if err := c.observe(cred); err == nil || !strings.Contains(err.Error(), "master credentials") {
		t.Fatalf("three credential rejections and no login: err = %v", err)
	}
	d := &breaker{rc: RunConfig{}.withDefaults()}
	_ = d.observe(Outcome{})
	d.recent[0] = false
	d.logins = 1
	for range 5 {
		if err := d.observe(cred); err != nil {
			t.Fatalf("credential rejections after a working login must not stop the scan: %v", err)
		}
	}
}
