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

	"github.com/impact-ops/impact/internal/results"
)

// folders lists every folder and counts each countable one. Folder-level
// failures are recorded in the folder and also returned, so the mailbox's
// verdict can say the counts are incomplete.
//
// After the login, round trips are most of what a probe costs a busy
// server, so commands go out ahead of the answers wherever no answer is
// needed to write them: EXAMINE INBOX together with LIST (INBOX always
// exists, RFC 9051 5.1, and its STATUS then comes from the open folder),
// then the folders' counting commands as a counter queues them.
func (p *Prober) folders(ctx context.Context, s *session) ([]results.Folder, error) {
	caps, err := p.capabilities(ctx, s)
	if err != nil {
		return nil, err
	}
	var opts *imap.ListOptions
	if caps.Has(imap.CapListStatus) {
		opts = &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}}
	}

	// Neither command has a literal, so both can leave in one write.
	s.cork.corkWrites()
	inboxCmd := s.client.Select("INBOX", &imap.SelectOptions{ReadOnly: true})
	listCmd := s.client.List("", "*", opts)
	s.cork.uncork()
	// LIST's answers are collected as they come, for the reason fetching
	// gives: go-imap queues 64 for a command nobody reads yet, and a server
	// may answer LIST before EXAMINE, which is read first.
	var list []*imap.ListData
	var listErr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		list, listErr = listCmd.Collect()
	}()
	// Both are outstanding until EXAMINE's answer: a failure then is
	// either's.
	const both = "EXAMINE INBOX and LIST"
	var inbox *imap.SelectData
	inboxErr := s.step(ctx, p.to.Command, both, func() error {
		var err error
		inbox, err = inboxCmd.Wait()
		return err
	})
	var ie *imap.Error
	if inboxErr != nil && !errors.As(inboxErr, &ie) {
		return nil, wrapCommandErr(both, inboxErr)
	}
	err = s.step(ctx, p.to.Command, "LIST", func() error {
		<-listed
		return listErr
	})
	if err != nil {
		return nil, wrapCommandErr("LIST", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Mailbox < list[j].Mailbox })

	folders := make([]results.Folder, len(list))
	var count []int // indexes into folders, in the order they are counted
	inboxAt := -1   // the folder EXAMINE INBOX selected
	for i, ld := range list {
		f := &folders[i]
		*f = results.Folder{Name: ld.Mailbox, Countable: true}
		for _, a := range ld.Attrs {
			f.Attributes = append(f.Attributes, string(a))
		}
		if hasAttr(ld.Attrs, imap.MailboxAttrNoSelect) || hasAttr(ld.Attrs, imap.MailboxAttrNonExistent) {
			f.Countable = false
			continue
		}
		selected := inboxErr == nil && inboxAt < 0 && strings.EqualFold(ld.Mailbox, "INBOX")
		if selected {
			inboxAt = i
			setSelectData(f, inbox)
		} else if st := ld.Status; st != nil {
			setFigures(f, u32to64(st.NumMessages), st.UIDValidity, st.UIDNext)
			if st.UIDValidity == 0 {
				// No UIDVALIDITY (never 0, RFC 9051 2.3.1.1): the server
				// did not open the folder, and its count is a guess.
				// Dovecot answers "MESSAGES 0 ... UIDVALIDITY 0" for a
				// full folder under concurrent first access: EXAMINE it.
				f.Messages = nil
			}
		}
		if f.Messages != nil && *f.Messages == 0 {
			zero := int64(0)
			f.BeforeCutoff, f.AfterCutoff = &zero, &zero
			continue
		}
		if selected {
			// Counted first, while it is still the selected folder.
			count = append([]int{i}, count...)
		} else {
			count = append(count, i)
		}
	}

	c := p.newCounter(s, caps.Has(imap.CapESearch))
	for _, i := range count {
		if err := c.add(ctx, &folders[i], i == inboxAt); err != nil {
			return folders, c.firstErr
		}
	}
	if err := c.last(ctx); err != nil {
		return folders, c.firstErr
	}
	// Mail came or went between LIST and EXAMINE: count those folders
	// again, one at a time, for what EXAMINE finds.
	for _, f := range c.redo {
		if err := c.write(ctx, f, true, false); err != nil {
			break
		}
		if err := c.flush(ctx); err != nil {
			break
		}
	}
	return folders, c.firstErr
}

func u32to64(v *uint32) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

func setSelectData(f *results.Folder, sel *imap.SelectData) {
	n := int64(sel.NumMessages)
	setFigures(f, &n, sel.UIDValidity, sel.UIDNext)
}

// setFigures records a folder's size and UIDs, from STATUS or EXAMINE; a
// zero UIDVALIDITY or UIDNEXT is one the server did not give.
func setFigures(f *results.Folder, messages *int64, validity uint32, next imap.UID) {
	f.Messages = messages
	if validity != 0 {
		f.UIDValidity = &validity
	}
	if next != 0 {
		v := uint32(next)
		f.UIDNext = &v
	}
}

// counter counts folders, writing each folder's commands (EXAMINE, unless
// the folder is already selected, and its folderQueries) before the
// answers to the folders before it have come. A small folder whose size is
// known needs no answer before the next folder's commands, so its commands
// queue; any other folder needs one (the FETCH near the cutoff of a large
// folder must follow its searches while it is selected; without ESEARCH
// or a known size the searches must follow EXAMINE's answer), so it ends
// the queue and is finished before anything else is written. With ESEARCH
// every answer carries its command's tag (RFC 4731), which is what lets
// the answers be told apart; without it, untagged SEARCH answers could not
// be (RFC 9051 5.5): one command at a time.
type counter struct {
	p           *Prober
	s           *session
	esearch     bool
	day, lo, hi time.Time // see folderQueries
	pending     []*folderJob
	corked      bool
	redo        []*results.Folder
	firstErr    error
}

// maxQueued bounds the folders whose commands go out in one write.
const maxQueued = 50

// folderJob is one folder's commands, written and not yet answered.
type folderJob struct {
	f        *results.Folder
	examined *imapclient.SelectCommand // nil when the folder was selected already
	sentFor  int64                     // the message count q was written for
	q        *folderQueries            // nil until the size is known
}

func (p *Prober) newCounter(s *session, esearch bool) *counter {
	u := p.cfg.Cutoff.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return &counter{p: p, s: s, esearch: esearch, day: day, lo: day.AddDate(0, 0, -1), hi: day.AddDate(0, 0, 2)}
}

// add writes f's commands and, unless they can queue, finishes every
// queued folder. It returns an error only when the probe cannot go on.
func (c *counter) add(ctx context.Context, f *results.Folder, selected bool) error {
	queues := c.esearch && f.Messages != nil && *f.Messages <= int64(c.p.smallFolder)
	if err := c.write(ctx, f, !selected, c.esearch && f.Messages != nil); err != nil {
		return err
	}
	if !queues || len(c.pending) >= maxQueued {
		return c.flush(ctx)
	}
	return nil
}

// write queues f's commands (see send). Writing can wait too: a folder
// name sent as a synchronizing literal waits for the server's "+".
func (c *counter) write(ctx context.Context, f *results.Folder, examine, withQueries bool) error {
	var j *folderJob
	err := c.s.step(ctx, c.p.to.Command, "EXAMINE", func() error {
		j = c.send(f, examine, withQueries)
		return nil
	})
	if err != nil {
		return c.fail(f, wrapCommandErr("EXAMINE", err))
	}
	c.pending = append(c.pending, j)
	return nil
}

// send writes f's EXAMINE (when examine) and, when withQueries, the
// queries for the size f.Messages says.
func (c *counter) send(f *results.Folder, examine, withQueries bool) *folderJob {
	s := c.s
	// With LITERAL+ (or LITERAL- for short strings) no command waits for
	// a continuation, so the writes can be held and go out together;
	// without, a folder name sent as a synchronizing literal would wait
	// for the server's "+" behind held writes forever. LITERAL- allows
	// non-synchronizing literals up to 4096 bytes (RFC 7888); the name
	// goes out in modified UTF-7, at most twice its UTF-8 length ("&"
	// becomes "&-").
	caps := s.client.Caps()
	switch hold := caps.Has(imap.CapLiteralPlus) || caps.Has(imap.CapLiteralMinus) && 2*len(f.Name) < 4096; {
	case hold && !c.corked:
		s.cork.corkWrites()
		c.corked = true
	case !hold && c.corked:
		c.corked = false
		s.cork.uncork()
	}
	j := &folderJob{f: f}
	if examine {
		j.examined = s.client.Select(f.Name, &imap.SelectOptions{ReadOnly: true})
	}
	if withQueries && *f.Messages > 0 {
		j.sentFor = *f.Messages
		j.q = c.p.sendQueries(s, c.day, c.lo, c.hi, uint32(*f.Messages))
	}
	return j
}

// last finishes the queued folders. When none of them can need another
// command (only small folders are queued: their answers hold whatever
// the folder holds, so none is counted again), LOGOUT goes out with their
// commands and the session's logout only waits for its answer: one round
// trip less per mailbox.
func (c *counter) last(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	if len(c.redo) > 0 {
		return c.flush(ctx) // folders to count again after these
	}
	for _, j := range c.pending {
		if j.q == nil || j.q.all == nil {
			return c.flush(ctx)
		}
	}
	c.s.bye = c.s.client.Logout()
	return c.flush(ctx)
}

// flush sends what is held and finishes the queued folders in order.
func (c *counter) flush(ctx context.Context) error {
	if c.corked {
		c.corked = false
		c.s.cork.uncork()
	}
	jobs := c.pending
	c.pending = nil
	for _, j := range jobs {
		if err := c.finish(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// fail records a folder's failure; a closed connection ends the probe, a
// NO for one folder does not.
func (c *counter) fail(f *results.Folder, err error) error {
	f.Error = err.Error()
	if c.firstErr == nil {
		c.firstErr = fmt.Errorf("folder %q: %w", f.Name, err)
	}
	var ce *CommandError
	if !errors.As(err, &ce) {
		return err
	}
	return nil
}

// discard consumes the answers to queries no longer wanted.
func (c *counter) discard(ctx context.Context, q *folderQueries) error {
	if q == nil {
		return nil
	}
	return c.s.step(ctx, c.p.to.Command, "SEARCH", func() error {
		q.discard()
		return nil
	})
}

// finish reads one folder's answers and counts messages before and
// at/after the cutoff by INTERNALDATE, and before the cutoff's day by Date
// header (SentBeforeCutoff); see folderQueries for how.
func (c *counter) finish(ctx context.Context, j *folderJob) error {
	p, s, f := c.p, c.s, j.f
	if j.examined != nil {
		var sel *imap.SelectData
		err := s.step(ctx, p.to.Command, "EXAMINE", func() error {
			var err error
			sel, err = j.examined.Wait()
			return err
		})
		if err != nil {
			// A failed EXAMINE leaves no folder selected (RFC 9051 6.3.2):
			// whatever the queries answered is not about this folder.
			if derr := c.discard(ctx, j.q); derr != nil {
				return c.fail(f, wrapCommandErr("EXAMINE", derr))
			}
			return c.fail(f, wrapCommandErr("EXAMINE", err))
		}
		if j.q != nil && j.q.ends != nil && int64(sel.NumMessages) != j.sentFor {
			// Mail came or went since LIST: the FETCH of the first and
			// last message was written for the listed size. Counted
			// again once the others are done. (A small folder's queries
			// hold for any size.)
			if err := c.discard(ctx, j.q); err != nil {
				return c.fail(f, wrapCommandErr("SEARCH", err))
			}
			c.redo = append(c.redo, f)
			return nil
		}
		setSelectData(f, sel)
	}
	n := *f.Messages
	if n == 0 {
		if err := c.discard(ctx, j.q); err != nil {
			return c.fail(f, wrapCommandErr("SEARCH", err))
		}
		zero := int64(0)
		f.BeforeCutoff, f.AfterCutoff, f.SentBeforeCutoff = &zero, &zero, &zero
		return nil
	}

	var a folderAnswers
	err := s.step(ctx, p.to.Command, "SEARCH", func() error {
		if j.q != nil {
			return j.q.wait(&a)
		}
		if c.esearch {
			j.q = p.sendQueries(s, c.day, c.lo, c.hi, uint32(n))
			return j.q.wait(&a)
		}
		return p.queryOneByOne(s, c.day, c.lo, c.hi, uint32(n), &a)
	})
	if err != nil {
		return c.fail(f, wrapCommandErr(a.failed, err))
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
	dated := func(dates []time.Time) {
		for _, d := range dates {
			if d.Before(p.cfg.Cutoff) {
				before++
			} else {
				after++
			}
			note(d)
		}
	}
	if a.all != nil {
		dated(a.all)
	} else {
		// BEFORE lo, SINCE lo BEFORE hi and SINCE hi split the folder: the
		// last needs no search of its own. (Mail delivered since EXAMINE
		// is left out of after; it is after the cutoff either way.)
		before, after = a.early, max(0, n-a.early-int64(len(a.mid)))
		// The first and last message by sequence number bound the dates
		// for mail delivered in order; with the messages near the cutoff
		// this is exact for ordinary delivery and cheap for large folders.
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
				return c.fail(f, wrapCommandErr("FETCH INTERNALDATE", err))
			}
			dated(dates)
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
	ends, all        *fetching
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
			all:  collectDates(s.client.Fetch(everyMessage(), &imap.FetchOptions{UID: true, InternalDate: true})),
		}
	}
	return &folderQueries{
		early: s.client.Search(&imap.SearchCriteria{Before: lo}, count),
		sent:  s.client.Search(&imap.SearchCriteria{SentBefore: day}, count),
		mid:   s.client.UIDSearch(&imap.SearchCriteria{Since: lo, Before: hi}, &imap.SearchOptions{ReturnAll: true}),
		ends:  collectDates(s.client.Fetch(imap.SeqSetNum(1, last), &imap.FetchOptions{UID: true, InternalDate: true})),
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
	dated := func(c *fetching, out *[]time.Time) {
		d, err := c.wait()
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
		if a.all, err = fetchDates(s.client.Fetch(everyMessage(), &imap.FetchOptions{UID: true, InternalDate: true})); err != nil {
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

// everyMessage is the UID set 1:*: whatever the folder holds when the
// FETCH runs, so it can be written before EXAMINE says how much that is.
// By UID, not sequence number: go-imap files a FETCH answer under the
// command whose set holds its number, once per number, and an unsolicited
// flag update ("* 2 FETCH (FLAGS (\Seen))" when another session reads a
// message) carries no UID, so it cannot take the place of the real answer.
func everyMessage() imap.UIDSet {
	var set imap.UIDSet
	set.AddRange(1, 0)
	return set
}

// fetching collects a pipelined FETCH's answers as they come. go-imap
// hands them over through a channel that holds 128, and its reader,
// blocked on a full one, reads nothing else: not the answers to the
// commands written before this FETCH, which the probe waits for first (a
// small folder that grew past 128 messages after LIST; a server that
// answers pipelined commands out of order), and closing the connection
// does not free it.
type fetching struct {
	done  chan struct{}
	dates []time.Time
	err   error
}

// collectDates starts collecting cmd's answers. The goroutine ends when
// the command does: answered, or failed with the connection.
func collectDates(cmd *imapclient.FetchCommand) *fetching {
	f := &fetching{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.dates, f.err = fetchDates(cmd)
	}()
	return f
}

func (f *fetching) wait() ([]time.Time, error) {
	<-f.done
	return f.dates, f.err
}

func fetchDates(cmd *imapclient.FetchCommand) ([]time.Time, error) {
	bufs, err := cmd.Collect()
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(bufs))
	for _, b := range bufs {
		// An answer without INTERNALDATE is not one to this command (an
		// unsolicited flag update filed under it): counting its zero date
		// would make a message from before the cutoff.
		if !b.InternalDate.IsZero() {
			out = append(out, b.InternalDate)
		}
	}
	return out, nil
}
