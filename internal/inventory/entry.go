package inventory

import "time"

// Entry is one mailbox of the inventory after normalisation.
//
// Mailbox is the IMAP login (usually an address, domain lowercased, white
// space and non-breaking spaces trimmed). AccountID is kept as text exactly as
// billing wrote it ("00420" stays "00420"); it defaults to Mailbox when the
// inventory has no account column or the cell is empty.
type Entry struct {
	Mailbox      string
	AccountID    string
	CustomerType string // raw inventory value, e.g. "Business", "" when absent
	Product      string
	Access       string     // raw access column, e.g. "imap", "webmail", "pop3"
	Created      *time.Time // date the account was opened; nil when absent
	ContactName  string
	ContactPhone string
	// Password is the mailbox's own password, read only for --auth password.
	// It must never be logged, written to results or shown in reports.
	Password string `json:"-"`

	// Source is where the entry came from, for error messages: "file:line".
	Source string
}
