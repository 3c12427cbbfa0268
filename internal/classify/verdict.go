package classify

import (
	"fmt"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

// Decide sets rec's CustomerType, TypeSource, Impact and Evidence from the
// probe's outcome and the inventory fields carried in rec.
//
//   - login refused by the server (rec.Login.Outcome "failed") → login_failed;
//   - probe did not finish (error, or a countable folder left uncounted
//     while nothing before the cutoff was found) → probe_error;
//   - messages before the cutoff → ok;
//   - none before the cutoff: missing_old_mail when the inventory says the
//     account was opened before the cutoff and (when known) its access kept
//     mail on the server; no_old_mail when it was opened after the cutoff,
//     uses POP3, or nothing says there was old mail.
func Decide(rec *results.Mailbox, cutoff time.Time, r *Rules) {
	rec.CustomerType, rec.TypeSource = r.CustomerType(rec.Mailbox, rec.RawType, rec.Product)
	rec.Impact, rec.Evidence = verdict(rec, cutoff, r)
}

func verdict(rec *results.Mailbox, cutoff time.Time, r *Rules) (results.Impact, string) {
	switch rec.Login.Outcome {
	case "failed":
		ev := "login refused"
		if rec.Login.Code != "" {
			ev += ": [" + rec.Login.Code + "]"
		}
		if rec.Login.Text != "" {
			ev += " " + rec.Login.Text
		}
		return results.ImpactLoginFailed, ev
	case "ok":
	default:
		return results.ImpactProbeError, "probe did not finish: " + firstNonEmpty(rec.Error, "no login")
	}

	var known int64
	incomplete := false
	for _, f := range rec.Folders {
		if !f.Countable {
			continue
		}
		if f.BeforeCutoff == nil {
			incomplete = true
			continue
		}
		known += *f.BeforeCutoff
	}
	if known > 0 {
		return results.ImpactOK, fmt.Sprintf("%d messages before the cutoff", known)
	}
	if incomplete || rec.Error != "" {
		return results.ImpactProbeError, "counts incomplete: " + firstNonEmpty(rec.Error, "a folder could not be counted")
	}

	access := strings.ToLower(strings.TrimSpace(rec.Access))
	created, hasCreated := parseDay(rec.Created)
	switch {
	case hasCreated && !created.Before(cutoff):
		return results.ImpactNoOldMail, "no mail before the cutoff; inventory: opened " + rec.Created + ", after the cutoff"
	case access != "" && inFold(r.OldMail.NotKept, access):
		return results.ImpactNoOldMail, "no mail before the cutoff; inventory: access " + access + " (mail not kept on the server)"
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
	default:
		return results.ImpactNoOldMail, "no mail before the cutoff and no inventory evidence that there was any"
	}
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
