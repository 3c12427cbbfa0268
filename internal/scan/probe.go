package scan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// LoginRefused: the server refused to log in to this mailbox. This is a
// finding (the customer cannot log in either), not a fault: it is never
// retried. Code is the RFC 5530 response code, e.g. AUTHORIZATIONFAILED.
type LoginRefused struct {
	Code string
	Text string
}

func (e *LoginRefused) Error() string {
	if e.Code == "" {
		return "login refused: " + e.Text
	}
	return fmt.Sprintf("login refused: [%s] %s", e.Code, e.Text)
}

// CredentialsError: the server rejected the scanner's own credentials (the
// master user's), e.g. NO [AUTHENTICATIONFAILED] to a master-user login.
// Not a finding about the mailbox and not transient.
type CredentialsError struct {
	Code string
	Text string
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("master credentials rejected: [%s] %s", e.Code, e.Text)
}

// Prober probes single mailboxes. It is safe for concurrent use.
type Prober struct {
	cfg   Config
	to    Timeouts
	trace *tracer
	// loginOnly stops after the login: the benchmarks' floor (connect,
	// login, logout) against which a full probe is measured.
	loginOnly bool
	// smallFolder is the most messages a folder may hold to be counted
	// from every message's INTERNALDATE (see folderQueries); tests set 0
	// to count every folder by searching.
	smallFolder uint32
}

// NewProber checks cfg and returns a Prober.
func NewProber(cfg Config) (*Prober, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Prober{cfg: cfg, to: cfg.Timeouts.withDefaults(), smallFolder: smallFolder}
	if cfg.Trace != nil {
		p.trace = newTracer(cfg.Trace)
	}
	return p, nil
}

// Probe logs in to one mailbox and counts its messages around the cutoff.
//
// The returned record has Login, the totals and Folders filled; the verdict
// (Impact, Evidence) is left to the caller. err is nil when the probe
// completed, *LoginRefused when the server refused the login (a finding),
// and otherwise says what failed (see IsTransient). The record is valid in
// every case and carries what was learnt before the failure.
func (p *Prober) Probe(ctx context.Context, e inventory.Entry) (rec results.Mailbox, err error) {
	return p.probe(ctx, e, nil)
}

// loginWatch is told when a login starts and when the server answers it;
// the runner uses it to give a working slot back while the server holds a
// login on a timer. answered returns an error only when the probe must not
// go on (ctx ended while waiting for a working slot).
type loginWatch interface {
	started()
	answered(ctx context.Context, ok bool) error
}

func (p *Prober) probe(ctx context.Context, e inventory.Entry, w loginWatch) (rec results.Mailbox, err error) {
	start := time.Now()
	rec = results.Mailbox{Kind: results.KindMailbox, Mailbox: e.Mailbox(), AccountID: e.AccountID(), ProbedAt: start.UTC()}
	defer func() {
		rec.DurationMS = time.Since(start).Milliseconds()
		if err != nil {
			rec.Error = err.Error()
			if rec.Login.Outcome == "" {
				rec.Login.Outcome = "error"
			}
		}
	}()

	// One deadline for the whole probe too: a server that drips answers
	// just inside each step's timeout must not hold a mailbox for long.
	ctx, cancel := context.WithTimeout(ctx, p.to.Probe)
	defer cancel()
	s, err := dial(ctx, &p.cfg, p.trace, e.Mailbox())
	if err != nil {
		return rec, err
	}
	defer s.logout(ctx, p.to.Command)

	if err := p.login(ctx, s, e, &rec.Login, w); err != nil {
		return rec, err
	}
	if p.loginOnly {
		return rec, nil
	}
	folders, err := p.folders(ctx, s)
	rec.Folders = folders
	if folders == nil {
		// LIST itself failed: nothing is known, not "0 messages".
		return rec, err
	}
	sumFolders(&rec)
	return rec, err
}

func (p *Prober) login(ctx context.Context, s *session, e inventory.Entry, out *results.Login, w loginWatch) error {
	caps, err := p.capabilities(ctx, s)
	if err != nil {
		return err
	}
	var run func() error
	switch p.cfg.Auth {
	case AuthMaster:
		if caps.Has(imap.CapLoginDisabled) {
			return &SetupError{Msg: "server advertises LOGINDISABLED", Hint: "use --tls implicit or --tls starttls, or --auth authzid"}
		}
		out.Method = "LOGIN"
		user := e.Mailbox() + p.cfg.separator() + p.cfg.MasterUser
		run = func() error { return s.client.Login(user, p.cfg.MasterPassword).Wait() }
	case AuthAuthzID:
		if !caps.Has(imap.Cap("AUTH=PLAIN")) {
			return &SetupError{Msg: "server does not offer AUTHENTICATE PLAIN", Hint: "use --auth master (LOGIN with a separator), or TLS if PLAIN is only offered after it"}
		}
		out.Method = "AUTHENTICATE PLAIN"
		run = func() error {
			return s.client.Authenticate(sasl.NewPlainClient(e.Mailbox(), p.cfg.MasterUser, p.cfg.MasterPassword))
		}
	case AuthPassword:
		if caps.Has(imap.CapLoginDisabled) {
			return &SetupError{Msg: "server advertises LOGINDISABLED", Hint: "use --tls implicit or --tls starttls"}
		}
		out.Method = "LOGIN"
		run = func() error { return s.client.Login(e.Mailbox(), e.Password()).Wait() }
	}
	t0 := time.Now()
	if w != nil {
		w.started()
	}
	err = s.step(ctx, p.to.Login, "login", run)
	out.DurationMS = time.Since(t0).Milliseconds()
	if w != nil {
		if werr := w.answered(ctx, err == nil); werr != nil && err == nil {
			out.Outcome = "ok"
			return fmt.Errorf("after login: %w", werr)
		}
	}
	if err == nil {
		out.Outcome = "ok"
		return nil
	}
	var ie *imap.Error
	if !errors.As(err, &ie) {
		out.Outcome = "error"
		return wrapCommandErr("login", err)
	}
	out.Code = string(ie.Code)
	out.Text = ie.Text
	code := ie.Code
	switch {
	case code == "PRIVACYREQUIRED":
		out.Outcome = "error"
		return &SetupError{Msg: "server requires a secure connection for login: " + describeIMAPError(ie), Hint: "use --tls implicit or --tls starttls"}
	case transientCodes[code] || (code == "" && transientText.MatchString(ie.Text)):
		out.Outcome = "error"
		return &CommandError{Step: "login", Err: ie}
	case p.cfg.Auth != AuthPassword && (code == "AUTHENTICATIONFAILED" || code == ""):
		// With a master user, AUTHENTICATIONFAILED is about the master
		// credentials; a missing mailbox is AUTHORIZATIONFAILED.
		out.Outcome = "error"
		return &CredentialsError{Code: string(code), Text: ie.Text}
	default:
		out.Outcome = "failed"
		return &LoginRefused{Code: string(code), Text: ie.Text}
	}
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// capabilities returns the server's capabilities, asking for them when the
// client has none cached (go-imap's Caps hides why it has none).
func (p *Prober) capabilities(ctx context.Context, s *session) (imap.CapSet, error) {
	var caps imap.CapSet
	err := s.step(ctx, p.to.Command, "CAPABILITY", func() error {
		var err error
		if caps = s.client.Caps(); caps == nil {
			caps, err = s.client.Capability().Wait()
		}
		return err
	})
	if err != nil {
		return nil, wrapCommandErr("CAPABILITY", err)
	}
	return caps, nil
}

// wrapCommandErr types an error from a step: the server's NO/BAD, a
// timeout, the connection failing, the run being cancelled, or (anything
// else) a response the client could not parse.
func wrapCommandErr(step string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return &CommandError{Step: step, Err: ie}
	}
	var te *TimeoutError
	var ne *NetError
	var pe *ProtocolError
	if errors.As(err, &te) || errors.As(err, &ne) || errors.As(err, &pe) {
		return err
	}
	if isConnErr(err) {
		return &NetError{Step: step, Err: err}
	}
	// Anything else is the client failing to parse the server's answer
	// (e.g. a folder name that is not valid modified UTF-7).
	return &ProtocolError{Step: step, Msg: "malformed server response: " + err.Error()}
}

// sumFolders totals the countable folders. A total is nil (unknown) when any
// countable folder's count is unknown.
func sumFolders(rec *results.Mailbox) {
	var before, after int64
	known := true
	for _, f := range rec.Folders {
		if !f.Countable {
			continue
		}
		if f.BeforeCutoff == nil || f.AfterCutoff == nil {
			known = false
		} else {
			before += *f.BeforeCutoff
			after += *f.AfterCutoff
		}
		if f.Oldest != nil && (rec.Oldest == nil || f.Oldest.Before(*rec.Oldest)) {
			t := *f.Oldest
			rec.Oldest = &t
		}
		if f.Newest != nil && (rec.Newest == nil || f.Newest.After(*rec.Newest)) {
			t := *f.Newest
			rec.Newest = &t
		}
	}
	if known && rec.Login.Outcome == "ok" {
		rec.BeforeCutoff, rec.AfterCutoff = &before, &after
	}
}
