package classify

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/baseline"
	"github.com/impact-ops/impact/internal/results"
)

// Tolerance is the shortfall against a baseline accepted as the customer's
// own deletions: the larger of Messages and Percent of the baseline count.
type Tolerance struct {
	Messages int64   // absolute, in messages
	Percent  float64 // of the baseline count, 0 to 100
}

// DefaultTolerance: 5 messages or 2% of the baseline, whichever is larger.
func DefaultTolerance() Tolerance { return Tolerance{Messages: 5, Percent: 2} }

// Allowed is the shortfall accepted for a baseline of base messages.
func (t Tolerance) Allowed(base int64) int64 {
	return max(t.Messages, int64(math.Ceil(float64(base)*t.Percent/100)))
}

// String is the tolerance as the flag takes it, e.g. "5,2%".
func (t Tolerance) String() string {
	return fmt.Sprintf("%d,%g%%", t.Messages, t.Percent)
}

// Evidence is what Decide may use beyond the probe and the inventory.
type Evidence struct {
	// Baseline lists what mailboxes held before the cutoff; nil when none
	// was given: a record's stored Baseline check (from the scan) is then
	// decided again with its own figures.
	Baseline  *baseline.Baseline
	Tolerance Tolerance
	// UIDValidityHeuristic reads UIDVALIDITY as the folder's creation time
	// (Unix seconds, as Dovecot and Cyrus assign it): later than the cutoff
	// means the folder was created after the incident.
	UIDValidityHeuristic bool
}

// DateMismatchMin and the half rule decide date_mismatch: at least this
// many more messages before the cutoff by Date header than by
// INTERNALDATE, and the INTERNALDATE count under half the Date header
// count. Mail with a back-dated Date header (spam) stays below it; a
// restore that reset INTERNALDATE to the restore time does not.
const DateMismatchMin = 5

// Decide sets rec's CustomerType, TypeSource, Impact and Evidence from the
// probe's outcome and the inventory fields carried in rec, without a
// baseline or heuristics (DecideWith with nil Evidence).
func Decide(rec *results.Mailbox, cutoff time.Time, r *Rules) {
	DecideWith(rec, cutoff, r, nil)
}

// DecideWith sets rec's CustomerType, TypeSource, Impact and Evidence, and
// the evidence fields SentBeforeCutoff, DateMismatch, DateBasis, Baseline
// and Recreated. ev may be nil (defaults: no baseline file, default
// tolerance, no heuristic).
//
//   - login refused by the server (rec.Login.Outcome "failed") → login_failed;
//   - probe did not finish → probe_error;
//   - old mail is counted by INTERNALDATE, or by Date header (SENTBEFORE)
//     when the two disagree sharply (DateMismatch), and the evidence says so;
//   - with a baseline listing messages: ok when the shortfall is within
//     the tolerance; missing_old_mail when none is there; partially_restored
//     when some is; probe_error when counts are incomplete and short;
//   - without: messages before the cutoff → ok; none: missing_old_mail
//     when a folder was recreated after the cutoff (baseline UIDVALIDITY,
//     or the opt-in heuristic) or the inventory says the account was opened
//     before the cutoff and kept mail on the server; no_old_mail otherwise.
func DecideWith(rec *results.Mailbox, cutoff time.Time, r *Rules, ev *Evidence) {
	if ev == nil {
		ev = &Evidence{Tolerance: DefaultTolerance()}
	}
	rec.CustomerType, rec.TypeSource = r.CustomerType(rec.Mailbox, rec.RawType, rec.Product)
	rec.Impact, rec.Evidence = verdict(rec, cutoff, r, ev)
}

// counts is what the folders say about old mail.
type counts struct {
	internal   int64 // INTERNALDATE before the cutoff, countable folders counted
	sent       int64 // Date header before the cutoff's day
	sentKnown  bool  // every countable folder has a sent count
	incomplete bool  // a countable folder could not be counted
}

func folderCounts(rec *results.Mailbox) counts {
	c := counts{sentKnown: true}
	for _, f := range rec.Folders {
		if !f.Countable {
			continue
		}
		if f.BeforeCutoff == nil {
			c.incomplete = true
		} else {
			c.internal += *f.BeforeCutoff
		}
		switch {
		case f.SentBeforeCutoff != nil:
			c.sent += *f.SentBeforeCutoff
		case f.Messages != nil && *f.Messages == 0:
		default:
			c.sentKnown = false
		}
	}
	return c
}

// folderPresent is a folder's old mail by the date basis used.
func folderPresent(f *results.Folder, basis string) int64 {
	p := f.BeforeCutoff
	if basis == "date_header" && f.SentBeforeCutoff != nil {
		p = f.SentBeforeCutoff
	}
	if p == nil {
		return 0
	}
	return *p
}

func verdict(rec *results.Mailbox, cutoff time.Time, r *Rules, ev *Evidence) (results.Impact, string) {
	rec.SentBeforeCutoff, rec.DateMismatch, rec.DateBasis = nil, false, ""
	switch rec.Login.Outcome {
	case "failed":
		rec.Baseline, rec.Recreated = baselineOnly(rec, ev, true), nil
		e := "login refused"
		if rec.Login.Code != "" {
			e += ": [" + rec.Login.Code + "]"
		}
		if rec.Login.Text != "" {
			e += " " + rec.Login.Text
		}
		return results.ImpactLoginFailed, e
	case "ok":
	default:
		rec.Baseline, rec.Recreated = baselineOnly(rec, ev, false), nil
		return results.ImpactProbeError, "probe did not finish: " + firstNonEmpty(rec.Error, "no login")
	}

	c := folderCounts(rec)
	if c.sentKnown {
		s := c.sent
		rec.SentBeforeCutoff = &s
	}
	present, basis, datePrefix := c.internal, "internaldate", ""
	if c.sentKnown && c.sent-c.internal >= DateMismatchMin && c.internal*2 < c.sent {
		rec.DateMismatch = true
		present, basis = c.sent, "date_header"
		datePrefix = fmt.Sprintf("date_mismatch: %d before the cutoff by Date header but %d by INTERNALDATE (a restore that reset INTERNALDATE?); counted by Date header; ", c.sent, c.internal)
	}
	rec.DateBasis = basis

	check := baselineCheck(rec, ev, basis)
	rec.Baseline = check
	rec.Recreated = recreated(rec, check, ev, cutoff)

	if check != nil && check.Messages > 0 {
		check.Present = present
		check.Missing = max(0, check.Messages-present)
		check.Share = float64(check.Missing) / float64(check.Messages)
		check.Tolerance = ev.Tolerance.Allowed(check.Messages)
		fig := fmt.Sprintf("baseline %s: %d of %d messages before the cutoff present", check.Source, present, check.Messages)
		switch {
		case check.Missing <= check.Tolerance && present > 0:
			// The tolerance excuses a few deletions, never an empty
			// mailbox: nothing old at all is the incident's mark.
			short := "none missing"
			if check.Missing > 0 {
				short = fmt.Sprintf("%d short, within the tolerance of %d", check.Missing, check.Tolerance)
			}
			return results.ImpactOK, datePrefix + fig + " (" + short + ")" + recreatedNote(rec)
		case c.incomplete || rec.Error != "":
			return results.ImpactProbeError, datePrefix + fig + "; counts incomplete: " + firstNonEmpty(rec.Error, "a folder could not be counted")
		}
		loss := fmt.Sprintf("; %d missing (%.0f%%, tolerance %d)%s%s", check.Missing, 100*check.Share, check.Tolerance, folderNote(check), recreatedNote(rec))
		if present == 0 {
			return results.ImpactMissingOldMail, datePrefix + fig + loss
		}
		return results.ImpactPartiallyRestored, datePrefix + fig + loss
	}

	if present > 0 {
		if rec.DateMismatch {
			return results.ImpactOK, datePrefix + messagesBefore(present) + recreatedNote(rec)
		}
		return results.ImpactOK, messagesBefore(present) + recreatedNote(rec)
	}
	if c.incomplete || rec.Error != "" {
		return results.ImpactProbeError, "counts incomplete: " + firstNonEmpty(rec.Error, "a folder could not be counted")
	}

	access := strings.ToLower(strings.TrimSpace(rec.Access))
	created, hasCreated := parseDay(rec.Created)
	switch {
	case hasCreated && !created.Before(cutoff):
		return results.ImpactNoOldMail, "no mail before the cutoff; inventory: opened " + rec.Created + ", after the cutoff"
	case access != "" && inFold(r.OldMail.NotKept, access):
		return results.ImpactNoOldMail, "no mail before the cutoff; inventory: access " + access + " (mail not kept on the server)"
	case len(rec.Recreated) > 0:
		return results.ImpactMissingOldMail, "no mail before the cutoff" + recreatedNote(rec)
	case hasCreated:
		how := "access unknown"
		switch {
		case access == "":
		case inFold(r.OldMail.KeptOnServer, access):
			how = "access " + access
		default:
			how = "access " + access + ", not named in the rules"
		}
		return results.ImpactMissingOldMail, "inventory: opened " + rec.Created + " before the cutoff (" + how + "); no mail before the cutoff on the server"
	case access != "" && inFold(r.OldMail.KeptOnServer, access):
		return results.ImpactMissingOldMail, "inventory: access " + access + " (mail kept on the server), opening date unknown; no mail before the cutoff on the server"
	default:
		return results.ImpactNoOldMail, "no mail before the cutoff and no inventory evidence that there was any"
	}
}

// baselineOnly keeps a mailbox's baseline figures when the probe could not
// count anything: the report still shows what was there. gone (the login
// was refused: the mailbox was not re-created) makes all of it missing; a
// probe that did not finish leaves Missing 0 (unknown; the impact says so).
func baselineOnly(rec *results.Mailbox, ev *Evidence, gone bool) *results.BaselineCheck {
	var c *results.BaselineCheck
	switch {
	case ev.Baseline != nil:
		m := ev.Baseline.Lookup(rec.Mailbox)
		if m == nil {
			return nil
		}
		c = &results.BaselineCheck{Source: m.Source, Messages: m.Messages}
	case rec.Baseline != nil:
		c = &results.BaselineCheck{Source: rec.Baseline.Source, Messages: rec.Baseline.Messages}
	default:
		return nil
	}
	if gone && c.Messages > 0 {
		c.Missing, c.Share = c.Messages, 1
	}
	return c
}

// baselineCheck compares the folders with the baseline file, or, without
// one, with the figures a scan stored in the record.
func baselineCheck(rec *results.Mailbox, ev *Evidence, basis string) *results.BaselineCheck {
	if ev.Baseline == nil {
		if rec.Baseline == nil {
			return nil
		}
		old := rec.Baseline
		c := &results.BaselineCheck{Source: old.Source, Messages: old.Messages}
		for _, fl := range old.Folders {
			if f := findFolder(rec, fl.Name); f != nil {
				fl.Present, fl.Gone = folderPresent(f, basis), false
			} else {
				fl.Present, fl.Gone = 0, true
			}
			fl.Missing = max(0, fl.Baseline-fl.Present)
			if fl.Missing > 0 {
				c.Folders = append(c.Folders, fl)
			}
		}
		return c
	}
	m := ev.Baseline.Lookup(rec.Mailbox)
	if m == nil {
		return nil
	}
	c := &results.BaselineCheck{Source: m.Source, Messages: m.Messages}
	for _, bf := range m.Folders {
		fl := results.FolderLoss{Name: bf.Name, Baseline: bf.Messages, BaselineUIDValidity: bf.UIDValidity}
		if f := findFolder(rec, bf.Name); f != nil {
			fl.Present = folderPresent(f, basis)
		} else {
			fl.Gone = true
		}
		fl.Missing = max(0, fl.Baseline-fl.Present)
		// A folder the baseline lists with a UIDVALIDITY is kept even when
		// complete: the recreated check (and a later report) needs it.
		if fl.Missing > 0 || fl.BaselineUIDValidity != 0 {
			c.Folders = append(c.Folders, fl)
		}
	}
	return c
}

func findFolder(rec *results.Mailbox, name string) *results.Folder {
	for i := range rec.Folders {
		f := &rec.Folders[i]
		if f.Countable && (f.Name == name || (strings.EqualFold(name, "INBOX") && strings.EqualFold(f.Name, "INBOX"))) {
			return f
		}
	}
	return nil
}

// recreated lists folders whose UIDVALIDITY differs from the baseline's
// (RFC 9051 2.3.1.1), and, with the heuristic, folders whose UIDVALIDITY
// read as Unix seconds is later than the cutoff.
func recreated(rec *results.Mailbox, check *results.BaselineCheck, ev *Evidence, cutoff time.Time) []results.Recreated {
	var out []results.Recreated
	seen := map[string]bool{}
	if check != nil {
		for _, fl := range check.Folders {
			if fl.BaselineUIDValidity == 0 || fl.Gone {
				continue
			}
			f := findFolder(rec, fl.Name)
			if f == nil || f.UIDValidity == nil || *f.UIDValidity == fl.BaselineUIDValidity {
				continue
			}
			out = append(out, results.Recreated{Folder: f.Name, UIDValidity: *f.UIDValidity, Baseline: fl.BaselineUIDValidity, Evidence: "baseline"})
			seen[f.Name] = true
		}
	}
	if ev.UIDValidityHeuristic {
		for _, f := range rec.Folders {
			if !f.Countable || f.UIDValidity == nil || seen[f.Name] {
				continue
			}
			if time.Unix(int64(*f.UIDValidity), 0).After(cutoff) {
				out = append(out, results.Recreated{Folder: f.Name, UIDValidity: *f.UIDValidity, Evidence: "uidvalidity"})
			}
		}
	}
	return out
}

// folderNote names the folders that lost mail, at most a few.
func folderNote(c *results.BaselineCheck) string {
	const show = 5
	var parts []string
	n := 0
	for _, fl := range c.Folders {
		if fl.Missing == 0 {
			continue
		}
		n++
		if n > show {
			continue
		}
		if fl.Gone {
			parts = append(parts, fmt.Sprintf("%s gone (%d)", fl.Name, fl.Baseline))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d of %d", fl.Name, fl.Present, fl.Baseline))
		}
	}
	if n == 0 {
		return ""
	}
	if n > show {
		parts = append(parts, fmt.Sprintf("and %d more", n-show))
	}
	return "; folders short: " + strings.Join(parts, ", ")
}

func recreatedNote(rec *results.Mailbox) string {
	if len(rec.Recreated) == 0 {
		return ""
	}
	var parts []string
	for _, x := range rec.Recreated {
		if x.Evidence == "baseline" {
			parts = append(parts, fmt.Sprintf("%s (UIDVALIDITY %d, baseline %d)", x.Folder, x.UIDValidity, x.Baseline))
		} else {
			parts = append(parts, fmt.Sprintf("%s (UIDVALIDITY %d = %s, after the cutoff)", x.Folder, x.UIDValidity,
				time.Unix(int64(x.UIDValidity), 0).UTC().Format("2006-01-02 15:04Z")))
		}
	}
	ev := "baseline"
	if rec.Recreated[0].Evidence == "uidvalidity" {
		ev = "uidvalidity"
	}
	return "; recreated folders (evidence: " + ev + "): " + strings.Join(parts, ", ")
}

func parseDay(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func messagesBefore(n int64) string {
	if n == 1 {
		return "1 message before the cutoff"
	}
	return fmt.Sprintf("%d messages before the cutoff", n)
}
