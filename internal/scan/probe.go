package scan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
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

// folders lists every folder and counts each countable one. Folder-level
// failures are recorded in the folder and also returned, so the mailbox's
// verdict can say the counts are incomplete.
func (p *Prober) folders(ctx context.Context, s *session) ([]results.Folder, error) {
	caps, err := p.capabilities(ctx, s)
	if err != nil {
		return nil, err
	}
	listStatus := caps.Has(imap.CapListStatus)
	esearch := caps.Has(imap.CapESearch)

	var opts *imap.ListOptions
	if listStatus {
		opts = &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}}
	}
	var list []*imap.ListData
	err = s.step(ctx, p.to.Command, "LIST", func() error {
		var err error
		list, err = s.client.List("", "*", opts).Collect()
		return err
	})
	if err != nil {
		return nil, wrapCommandErr("LIST", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Mailbox < list[j].Mailbox })

	folders := make([]results.Folder, 0, len(list))
	var firstErr error
	for _, ld := range list {
		f := results.Folder{Name: ld.Mailbox, Countable: true}
		for _, a := range ld.Attrs {
			f.Attributes = append(f.Attributes, string(a))
		}
		if hasAttr(ld.Attrs, imap.MailboxAttrNoSelect) || hasAttr(ld.Attrs, imap.MailboxAttrNonExistent) {
			f.Countable = false
			folders = append(folders, f)
			continue
		}
		if st := ld.Status; st != nil {
			f.Messages = u32to64(st.NumMessages)
			if st.UIDValidity != 0 {
				v := st.UIDValidity
				f.UIDValidity = &v
			}
			if st.UIDNext != 0 {
				v := uint32(st.UIDNext)
				f.UIDNext = &v
			}
		}
		if f.Messages != nil && *f.Messages == 0 {
			zero := int64(0)
			f.BeforeCutoff, f.AfterCutoff = &zero, &zero
			folders = append(folders, f)
			continue
		}
		if err := p.countFolder(ctx, s, &f, esearch); err != nil {
			f.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("folder %q: %w", f.Name, err)
			}
			// A closed connection ends the probe; a NO for one folder does not.
			var ce *CommandError
			if !errors.As(err, &ce) {
				folders = append(folders, f)
				return folders, firstErr
			}
		}
		folders = append(folders, f)
	}
	return folders, firstErr
}

func u32to64(v *uint32) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

// countFolder examines the folder (read-only) and counts messages before
// and at/after the cutoff by INTERNALDATE, and before the cutoff's day by
// Date header (SentBeforeCutoff); see folderQueries for how.
func (p *Prober) countFolder(ctx context.Context, s *session, f *results.Folder, esearch bool) error {
	day := time.Date(p.cfg.Cutoff.UTC().Year(), p.cfg.Cutoff.UTC().Month(), p.cfg.Cutoff.UTC().Day(), 0, 0, 0, 0, time.UTC)
	lo, hi := day.AddDate(0, 0, -1), day.AddDate(0, 0, 2)

	// With ESEARCH every answer carries its command's tag (RFC 4731), so
	// the searches and the FETCH can follow EXAMINE without waiting:
	// one round trip per folder instead of six. Without it, untagged SEARCH
	// answers could not be told apart (RFC 9051 5.5): one command at a time.
	var q *folderQueries
	examine := func() (*imap.SelectData, error) {
		// With LITERAL+ (or LITERAL- for short strings) no command here
		// waits for a continuation, so the writes can go out together.
		caps := s.client.Caps()
		cork := caps.Has(imap.CapLiteralPlus) || caps.Has(imap.CapLiteralMinus) && len(f.Name) < 4096
		if cork {
			s.cork.corkWrites()
		}
		cmd := s.client.Select(f.Name, &imap.SelectOptions{ReadOnly: true})
		if esearch && f.Messages != nil && *f.Messages > 0 {
			q = p.sendQueries(s, day, lo, hi, uint32(*f.Messages))
		}
		if cork {
			if err := s.cork.uncork(); err != nil {
				// The connection failed; the answers never come.
				s.close()
			}
		}
		sel, err := cmd.Wait()
		if err != nil && q != nil {
			q.discard()
			q = nil
		}
		return sel, err
	}
	var sel *imap.SelectData
	err := s.step(ctx, p.to.Command, "EXAMINE", func() error {
		var err error
		sel, err = examine()
		return err
	})
	if err != nil {
		return wrapCommandErr("EXAMINE", err)
	}
	if q != nil && f.Messages != nil && uint32(*f.Messages) != sel.NumMessages {
		// Mail came or went between LIST and EXAMINE: the queries were
		// sent for the listed count; ask again for what EXAMINE found.
		q.discard()
		q = nil
	}
	n := int64(sel.NumMessages)
	f.Messages = &n
	if sel.UIDValidity != 0 {
		v := sel.UIDValidity
		f.UIDValidity = &v
	}
	if sel.UIDNext != 0 {
		v := uint32(sel.UIDNext)
		f.UIDNext = &v
	}
	if n == 0 {
		if q != nil {
			q.discard()
		}
		zero := int64(0)
		f.BeforeCutoff, f.AfterCutoff, f.SentBeforeCutoff = &zero, &zero, &zero
		return nil
	}

	var a folderAnswers
	err = s.step(ctx, p.to.Command, "SEARCH", func() error {
		if q == nil {
			if esearch {
				q = p.sendQueries(s, day, lo, hi, uint32(n))
				return q.wait(&a)
			}
			return p.queryOneByOne(s, day, lo, hi, uint32(n), &a)
		}
		return q.wait(&a)
	})
	if err != nil {
		return wrapCommandErr(a.failed, err)
	}

	var before, after int64
	var oldest, newest time.Time
	note := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
		if newest.IsZero() || t.After(newest) {
			newest = t
		}
	}
	if a.all != nil {
		for _, d := range a.all {
			if d.Before(p.cfg.Cutoff) {
				before++
			} else {
				after++
			}
			note(d)
		}
		f.BeforeCutoff, f.AfterCutoff, f.SentBeforeCutoff = &before, &after, &a.sent
		if !oldest.IsZero() {
			o, nw := oldest.UTC(), newest.UTC()
			f.Oldest, f.Newest = &o, &nw
		}
		return nil
	}
	// BEFORE lo, SINCE lo BEFORE hi and SINCE hi split the folder: the
	// last needs no search of its own. (Mail delivered since EXAMINE is
	// left out of after; it is after the cutoff either way.)
	before, after = a.early, max(0, n-a.early-int64(len(a.mid)))
	// The first and last message by sequence number bound the dates for
	// mail delivered in order; with the messages near the cutoff this is
	// exact for ordinary delivery and cheap for large folders.
	for _, d := range a.ends {
		note(d)
	}
	if len(a.mid) > 0 {
		var dates []time.Time
		err = s.step(ctx, p.to.Command, "FETCH INTERNALDATE", func() error {
			var err error
			dates, err = fetchDates(s.client.Fetch(imap.UIDSetNum(a.mid...), &imap.FetchOptions{UID: true, InternalDate: true}))
			return err
		})
		if err != nil {
			return wrapCommandErr("FETCH INTERNALDATE", err)
		}
		for _, d := range dates {
			if d.Before(p.cfg.Cutoff) {
				before++
			} else {
				after++
			}
			note(d)
		}
	}
	f.BeforeCutoff, f.AfterCutoff, f.SentBeforeCutoff = &before, &after, &a.sent
	if !oldest.IsZero() {
		o, nw := oldest.UTC(), newest.UTC()
		f.Oldest, f.Newest = &o, &nw
	}
	return nil
}

// folderQueries are the commands that count a folder, sent together.
//
// SEARCH BEFORE/SINCE compare dates only, in the server's time zone (RFC
// 9051 6.4.4), which the client cannot know. Whatever that zone (UTC-12 to
// UTC+14), a message dated before the day preceding the cutoff's UTC day is
// before the cutoff, and one dated two days after it or later is after. The
// messages in between (mid), usually a few days' mail, are compared exactly
// by FETCH INTERNALDATE. SENTBEFORE counts by Date header, for restores that
// reset INTERNALDATE to the restore time; it compares whole days of the
// header's own date and FETCH may not read headers here (UID, INTERNALDATE
// and RFC822.SIZE only), so it counts mail dated before the cutoff's UTC
// day: a lower bound missing up to a day's mail.
//
// A small folder (at most smallFolder messages, as a mailbox re-created
// after the incident holds) is counted from every message's INTERNALDATE
// instead: one FETCH in place of two searches and a second round trip for
// the messages near the cutoff, and exact oldest and newest dates.
type folderQueries struct {
	early, sent, mid *imapclient.SearchCommand
	ends, all        *imapclient.FetchCommand
}

type folderAnswers struct {
	early, sent int64
	mid         []imap.UID
	ends, all   []time.Time
	failed      string // the command that failed, for the error
}

// smallFolder is the most messages a folder may hold to be counted by
// fetching every message's INTERNALDATE (see folderQueries). The FETCH
// answer grows with the folder and the searches' answers do not; 32 holds
// the few days of mail a mailbox re-created after the incident has.
const smallFolder = 32

// sendQueries sends the counting commands; last is the folder's message
// count, the sequence number of its last message. (go-imap files a FETCH
// answer under a pending command only if its number is in the command's
// set, and "*" contains no number, so the number is spelt out.)
func (p *Prober) sendQueries(s *session, day, lo, hi time.Time, last uint32) *folderQueries {
	count := &imap.SearchOptions{ReturnCount: true}
	if last <= p.smallFolder {
		return &folderQueries{
			sent: s.client.Search(&imap.SearchCriteria{SentBefore: day}, count),
			all:  s.client.Fetch(everyMessage(last), &imap.FetchOptions{UID: true, InternalDate: true}),
		}
	}
	return &folderQueries{
		early: s.client.Search(&imap.SearchCriteria{Before: lo}, count),
		sent:  s.client.Search(&imap.SearchCriteria{SentBefore: day}, count),
		mid:   s.client.UIDSearch(&imap.SearchCriteria{Since: lo, Before: hi}, &imap.SearchOptions{ReturnAll: true}),
		ends:  s.client.Fetch(imap.SeqSetNum(1, last), &imap.FetchOptions{UID: true, InternalDate: true}),
	}
}

func (q *folderQueries) wait(a *folderAnswers) error {
	var errs []error
	counted := func(what string, c *imapclient.SearchCommand, out *int64) {
		d, err := c.Wait()
		if err != nil {
			errs = append(errs, err)
			if a.failed == "" {
				a.failed = "SEARCH " + what
			}
			return
		}
		*out = int64(d.Count)
	}
	dated := func(c *imapclient.FetchCommand, out *[]time.Time) {
		d, err := fetchDates(c)
		if err != nil {
			errs = append(errs, err)
			if a.failed == "" {
				a.failed = "FETCH INTERNALDATE"
			}
		}
		*out = d
	}
	if q.early != nil {
		counted("BEFORE", q.early, &a.early)
	}
	counted("SENTBEFORE", q.sent, &a.sent)
	if q.mid != nil {
		if d, err := q.mid.Wait(); err != nil {
			errs = append(errs, err)
			if a.failed == "" {
				a.failed = "SEARCH near cutoff"
			}
		} else {
			a.mid = d.AllUIDs()
		}
	}
	if q.ends != nil {
		dated(q.ends, &a.ends)
	}
	if q.all != nil {
		dated(q.all, &a.all)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// discard consumes the answers of queries that are no longer wanted.
func (q *folderQueries) discard() {
	var a folderAnswers
	_ = q.wait(&a)
}

// queryOneByOne counts without ESEARCH: plain SEARCH answers are untagged,
// so each waits for the last.
func (p *Prober) queryOneByOne(s *session, day, lo, hi time.Time, last uint32, a *folderAnswers) error {
	count := func(what string, c *imap.SearchCriteria, out *int64) error {
		d, err := s.client.Search(c, nil).Wait()
		if err != nil {
			a.failed = "SEARCH " + what
			return err
		}
		*out = int64(len(d.AllSeqNums()))
		return nil
	}
	if err := count("SENTBEFORE", &imap.SearchCriteria{SentBefore: day}, &a.sent); err != nil {
		return err
	}
	if last <= p.smallFolder {
		var err error
		if a.all, err = fetchDates(s.client.Fetch(everyMessage(last), &imap.FetchOptions{UID: true, InternalDate: true})); err != nil {
			a.failed = "FETCH INTERNALDATE"
		}
		return err
	}
	if err := count("BEFORE", &imap.SearchCriteria{Before: lo}, &a.early); err != nil {
		return err
	}
	d, err := s.client.UIDSearch(&imap.SearchCriteria{Since: lo, Before: hi}, nil).Wait()
	if err != nil {
		a.failed = "SEARCH near cutoff"
		return err
	}
	a.mid = d.AllUIDs()
	a.ends, err = fetchDates(s.client.Fetch(imap.SeqSetNum(1, last), &imap.FetchOptions{UID: true, InternalDate: true}))
	if err != nil {
		a.failed = "FETCH INTERNALDATE"
	}
	return err
}

// everyMessage is the sequence set 1:last, spelt out for go-imap (see
// sendQueries).
func everyMessage(last uint32) imap.SeqSet {
	var set imap.SeqSet
	set.AddRange(1, last)
	return set
}

func fetchDates(cmd *imapclient.FetchCommand) ([]time.Time, error) {
	bufs, err := cmd.Collect()
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(bufs))
	for _, b := range bufs {
		out = append(out, b.InternalDate)
	}
	return out, nil
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
