package classify

import "github.com/impact-ops/impact/internal/results"

// Tier is an account's ranking group; lower ranks first.
type Tier int

// Ranking tiers, in the order impacted accounts are worked.
const (
	TierBusinessMulti Tier = iota // business account with two or more mailboxes
	TierBusiness                  // other business account
	TierUnknown                   // customer type not decided by any rule
	TierResidential               // residential account
)

// String names the tier for reports.
func (t Tier) String() string {
	switch t {
	case TierBusinessMulti:
		return "business multi-mailbox"
	case TierBusiness:
		return "business"
	case TierUnknown:
		return "unknown type"
	default:
		return "residential"
	}
}

// Account groups the mailboxes that share an account_id.
type Account struct {
	ID           string
	CustomerType string // business, residential or unknown (results.Type*)
	MultiMailbox bool   // two or more mailboxes under this account_id
	Tier         Tier
	// Mailboxes holds the account's records sorted by mailbox name.
	Mailboxes []*results.Mailbox
	// Impact is the worst impact of the account's mailboxes.
	Impact      results.Impact
	LoginFailed int // mailboxes with login_failed
	MissingOld  int // mailboxes with missing_old_mail or partially_restored
	ProbeErrors int // mailboxes with probe_error
	// Rank is the 1-based position among impacted accounts; 0 when the
	// account is not impacted.
	Rank int
}

// Affected is the number of the account's mailboxes that need action.
func (a *Account) Affected() int { return a.LoginFailed + a.MissingOld }
