// Package results defines the scan's results file: JSON Lines, one record per
// line, appended as probes complete. The workbook and every other report is
// derived from this file, never from the server.
//
// A results file holds three kinds of line, told apart by "kind":
//
//	{"kind":"scan", ...}      a Scan header written when a scan (or a resumed scan) starts
//	{"kind":"mailbox", ...}   a Mailbox record, written once per probe as it completes
//	{"kind":"end", ...}       an End trailer written when a scan stops
//
// A later Mailbox record for the same mailbox supersedes an earlier one.
package results

import "time"

// Impact is the verdict for one mailbox.
type Impact string

// The impact vocabulary, from worst to best for a customer.
const (
	// ImpactLoginFailed: the mailbox cannot be logged in to (it was not
	// re-created), e.g. NO [AUTHORIZATIONFAILED] to a master-user login.
	ImpactLoginFailed Impact = "login_failed"
	// ImpactMissingOldMail: login works but nothing from before the cutoff is
	// there while evidence says there was.
	ImpactMissingOldMail Impact = "missing_old_mail"
	// ImpactPartiallyRestored: a baseline says what the mailbox held before
	// the cutoff; some of it is there again (restored), but more is missing
	// than the tolerance allows. Still a restore to finish.
	ImpactPartiallyRestored Impact = "partially_restored"
	// ImpactProbeError: unknown; the probe did not finish (timeout, refused,
	// TLS, protocol error). Needs a rescan, not a phone call.
	ImpactProbeError Impact = "probe_error"
	// ImpactNoOldMail: login works, nothing before the cutoff, and no evidence
	// there ever was any (e.g. a POP3 user or a new account).
	ImpactNoOldMail Impact = "no_old_mail"
	// ImpactOK: mail from before the cutoff is present.
	ImpactOK Impact = "ok"
)

// Impacts lists every impact in report order (worst first).
var Impacts = []Impact{ImpactLoginFailed, ImpactMissingOldMail, ImpactPartiallyRestored, ImpactProbeError, ImpactNoOldMail, ImpactOK}

// Impacted reports whether the impact calls for action on the customer's
// behalf (restore or contact).
func (i Impact) Impacted() bool {
	return i == ImpactLoginFailed || i == ImpactMissingOldMail || i == ImpactPartiallyRestored
}

// Severity orders impacts: higher is worse. Unknown values rank with
// probe_error. partially_restored ranks below missing_old_mail (some mail is
// back) and above probe_error (mail is known to be missing).
func (i Impact) Severity() int {
	switch i {
	case ImpactLoginFailed:
		return 5
	case ImpactMissingOldMail:
		return 4
	case ImpactPartiallyRestored:
		return 3
	case ImpactNoOldMail:
		return 1
	case ImpactOK:
		return 0
	default:
		return 2
	}
}

// Customer types. Anything the rules cannot decide stays unknown, never
// silently residential.
const (
	TypeBusiness    = "business"
	TypeResidential = "residential"
	TypeUnknown     = "unknown"
)

// Record kinds.
const (
	KindScan    = "scan"
	KindMailbox = "mailbox"
	KindEnd     = "end"
)

// Target is the identity of the server a scan touched, printed before the
// first probe and recorded in every report, so that a console pointed at the
// wrong system is noticed.
type Target struct {
	Server       string   `json:"server"`         // host:port as given
	Host         string   `json:"host"`           // host part
	Addresses    []string `json:"addresses"`      // resolved addresses
	Connected    string   `json:"connected"`      // remote address of the identity connection
	TLS          string   `json:"tls"`            // implicit, starttls or none
	Greeting     string   `json:"greeting"`       // server greeting text
	CertSubject  string   `json:"cert_subject"`   // leaf certificate subject, "" without TLS
	CertIssuer   string   `json:"cert_issuer"`    // leaf certificate issuer
	CertSHA256   string   `json:"cert_sha256"`    // leaf certificate SHA-256 fingerprint, hex with colons
	CertNotAfter string   `json:"cert_not_after"` // RFC 3339
	Verified     bool     `json:"verified"`       // certificate chain and name verified
	Capabilities []string `json:"capabilities"`   // capabilities advertised before login
	LocalAddr    string   `json:"local_addr"`     // the scanner's own address on that connection
}

// Scan is the header line of one scan run.
type Scan struct {
	Kind      string    `json:"kind"` // "scan"
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Cutoff    time.Time `json:"cutoff"`
	Auth      string    `json:"auth"`      // master, authzid or password
	Inventory string    `json:"inventory"` // inventory file path as given
	Mailboxes int       `json:"mailboxes"` // mailboxes in the inventory (after de-duplication)
	Target    Target    `json:"target"`
	Resumed   bool      `json:"resumed,omitempty"`
	// Shard is "K/N" when this run scanned only shard K (0-based) of N.
	Shard string `json:"shard,omitempty"`
}

// End is the trailer line of one scan run.
type End struct {
	Kind       string    `json:"kind"` // "end"
	FinishedAt time.Time `json:"finished_at"`
	Complete   bool      `json:"complete"`
	Reason     string    `json:"reason,omitempty"` // why the scan stopped early
	Probed     int       `json:"probed"`           // mailboxes probed in this run

	// How the run treated the server (see scan.Stats).
	PeakConnections int      `json:"peak_connections,omitempty"`
	Pauses          int      `json:"pauses,omitempty"` // breaker pauses
	PenaltyHeld     int      `json:"penalty_held,omitempty"`
	PenaltyWaitS    float64  `json:"penalty_wait_s,omitempty"`
	Advice          []string `json:"advice,omitempty"` // what ops should change, e.g. the penalty fix
}

// Login is the outcome of the login step.
type Login struct {
	// Outcome: "ok", "failed" (the server refused the credentials for this
	// mailbox), "error" (no answer: network, TLS, protocol) or "" when the
	// probe never reached login.
	Outcome string `json:"outcome"`
	// Code is the RFC 5530 response code of a tagged NO/BAD, e.g.
	// "AUTHORIZATIONFAILED"; "" when the server gave none.
	Code string `json:"code,omitempty"`
	// Text is the server's human-readable text of the final response.
	Text string `json:"text,omitempty"`
	// Method is the login method used: "LOGIN" (master user with separator),
	// "AUTHENTICATE PLAIN" (authzid) or "PREAUTH".
	Method string `json:"method,omitempty"`
	// DurationMS is the time from sending the login to its answer, in ms.
	DurationMS int64 `json:"duration_ms"`
}

// Folder is one folder (IMAP "mailbox" in RFC 9051 terms) of a mailbox.
// Counts are pointers: nil means the server did not say (unknown), never 0.
type Folder struct {
	Name         string     `json:"name"` // decoded from modified UTF-7 (RFC 9051 5.1.3)
	Attributes   []string   `json:"attributes,omitempty"`
	Countable    bool       `json:"countable"` // false for \Noselect, \NonExistent
	Messages     *int64     `json:"messages"`
	BeforeCutoff *int64     `json:"before_cutoff"` // INTERNALDATE < cutoff
	AfterCutoff  *int64     `json:"after_cutoff"`  // INTERNALDATE >= cutoff
	UIDValidity  *uint32    `json:"uidvalidity"`
	UIDNext      *uint32    `json:"uidnext"`
	Oldest       *time.Time `json:"oldest"` // oldest INTERNALDATE
	Newest       *time.Time `json:"newest"` // newest INTERNALDATE
	Error        string     `json:"error,omitempty"`
	// SentBeforeCutoff counts messages whose Date header falls on a day
	// before the cutoff's UTC day (SEARCH SENTBEFORE, RFC 9051 6.4.4: whole
	// days, the header's own zone ignored). nil: not counted (older scans).
	SentBeforeCutoff *int64 `json:"sent_before_cutoff,omitempty"`
}

// BaselineCheck compares a mailbox with what a baseline (a backup or usage
// manifest, or an earlier scan) says it held before the cutoff. It carries
// the baseline's own figures, so a report can decide it again without the
// baseline file.
type BaselineCheck struct {
	Source    string  `json:"source"`        // where the baseline row came from, "file:line"
	Messages  int64   `json:"messages"`      // messages the baseline lists
	Present   int64   `json:"present"`       // messages before the cutoff now (by DateBasis)
	Missing   int64   `json:"missing"`       // Messages - Present, at least 0
	Share     float64 `json:"share_missing"` // Missing / Messages, 0 to 1
	Tolerance int64   `json:"tolerance"`     // shortfall (messages) accepted as customer deletions
	// Folders compares folder by folder when the baseline names folders;
	// only folders short of their baseline are listed.
	Folders []FolderLoss `json:"folders,omitempty"`
}

// FolderLoss is one folder with fewer messages than its baseline.
type FolderLoss struct {
	Name     string `json:"name"`
	Baseline int64  `json:"baseline"` // messages the baseline lists
	Present  int64  `json:"present"`  // messages before the cutoff now; 0 when gone
	Missing  int64  `json:"missing"`
	Gone     bool   `json:"gone,omitempty"` // the folder no longer exists
	// BaselineUIDValidity is the baseline's UIDVALIDITY for the folder, 0
	// when it did not give one.
	BaselineUIDValidity uint32 `json:"baseline_uidvalidity,omitempty"`
}

// Recreated is a folder that was created again after the cutoff: its
// UIDVALIDITY differs from the baseline's (RFC 9051 2.3.1.1: UIDs were
// reassigned), or, by the opt-in heuristic, read as a Unix time it is later
// than the cutoff.
type Recreated struct {
	Folder      string `json:"folder"`
	UIDValidity uint32 `json:"uidvalidity"`
	// Baseline is the baseline's UIDVALIDITY; 0 for the heuristic.
	Baseline uint32 `json:"baseline_uidvalidity,omitempty"`
	Evidence string `json:"evidence"` // "baseline" or "uidvalidity"
}

// Mailbox is the record of one probed mailbox.
type Mailbox struct {
	Kind         string `json:"kind"` // "mailbox"
	Mailbox      string `json:"mailbox"`
	AccountID    string `json:"account_id"`
	CustomerType string `json:"customer_type"` // business, residential or unknown
	TypeSource   string `json:"type_source"`   // what decided the type: inventory, product, domain, none
	MultiMailbox bool   `json:"multi_mailbox"`
	Impact       Impact `json:"impact"`
	// Evidence says how the verdict was reached, e.g. "AUTHORIZATIONFAILED",
	// "inventory: created 2019-03-01, access imap", "messages before cutoff".
	Evidence string `json:"evidence"`

	// Inventory fields carried so reports can be made without the inventory.
	Product      string `json:"product,omitempty"`
	Access       string `json:"access,omitempty"`
	Created      string `json:"created,omitempty"` // YYYY-MM-DD
	ContactName  string `json:"contact_name,omitempty"`
	ContactPhone string `json:"contact_phone,omitempty"`
	RawType      string `json:"raw_type,omitempty"` // customer_type as the inventory wrote it

	Login        Login      `json:"login"`
	BeforeCutoff *int64     `json:"before_cutoff"`
	AfterCutoff  *int64     `json:"after_cutoff"`
	Oldest       *time.Time `json:"oldest"`
	Newest       *time.Time `json:"newest"`
	Folders      []Folder   `json:"folders"`
	Error        string     `json:"error,omitempty"`
	// Attempts lists the reason of every failed attempt before the last.
	Attempts   []string  `json:"attempts,omitempty"`
	ProbedAt   time.Time `json:"probed_at"`
	DurationMS int64     `json:"duration_ms"`

	// SentBeforeCutoff totals the folders' SentBeforeCutoff; nil when any
	// countable folder's is unknown. Set by the verdict.
	SentBeforeCutoff *int64 `json:"sent_before_cutoff,omitempty"`
	// DateMismatch: far fewer messages are before the cutoff by INTERNALDATE
	// than by Date header, as after a restore that set INTERNALDATE to the
	// restore time. The verdict then counts by Date header (DateBasis).
	DateMismatch bool `json:"date_mismatch,omitempty"`
	// DateBasis is the date the verdict counted old mail by: "internaldate"
	// or "date_header"; "" when no count was needed.
	DateBasis string `json:"date_basis,omitempty"`
	// Baseline is the comparison with the baseline; nil without one or
	// when the baseline does not list the mailbox.
	Baseline *BaselineCheck `json:"baseline,omitempty"`
	// Recreated lists folders created again after the cutoff.
	Recreated []Recreated `json:"recreated,omitempty"`
	// Progress compares the verdict with an earlier scan's (see
	// impact report --previous): recovered, still_impacted,
	// newly_impacted, unchanged_ok or not_in_previous; "" without one.
	Progress string `json:"progress,omitempty"`
}
