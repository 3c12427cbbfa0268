package classify

import (
	"cmp"
	"sort"
	"strings"

	"github.com/impact-ops/impact/internal/results"
)

// Accounts groups mailbox records by account_id and ranks the impacted
// accounts. It sets each record's MultiMailbox. The result is sorted:
// impacted accounts in rank order first, then the rest by account ID.
//
// Ranking (README "Ranking"): tier first (business multi-mailbox,
// business, unknown type, residential); within a tier, accounts with a
// login failure before those only missing old mail; then more affected
// mailboxes first; then account ID in byte order, so the order is stable
// across runs and machines.
//
// An account's type is business if any of its mailboxes is business, else
// residential if any is, else unknown. Its impact is its worst mailbox's.
func Accounts(recs []*results.Mailbox) []*Account {
	byID := map[string]*Account{}
	var order []*Account
	for _, m := range recs {
		a := byID[m.AccountID]
		if a == nil {
			a = &Account{ID: m.AccountID, CustomerType: results.TypeUnknown, Impact: results.ImpactOK}
			byID[m.AccountID] = a
			order = append(order, a)
		}
		a.Mailboxes = append(a.Mailboxes, m)
	}
	for _, a := range order {
		sort.Slice(a.Mailboxes, func(i, j int) bool { return a.Mailboxes[i].Mailbox < a.Mailboxes[j].Mailbox })
		a.MultiMailbox = len(a.Mailboxes) >= 2
		for _, m := range a.Mailboxes {
			m.MultiMailbox = a.MultiMailbox
			a.CustomerType = MergeType(a.CustomerType, m.CustomerType)
			if m.Impact.Severity() > a.Impact.Severity() {
				a.Impact = m.Impact
			}
			switch m.Impact {
			case results.ImpactLoginFailed:
				a.LoginFailed++
			case results.ImpactMissingOldMail, results.ImpactPartiallyRestored:
				a.MissingOld++
			case results.ImpactProbeError:
				a.ProbeErrors++
			}
		}
		a.Tier = TierOf(a.CustomerType, a.MultiMailbox)
	}
	sort.SliceStable(order, func(i, j int) bool { return less(order[i], order[j]) })
	rank := 0
	for _, a := range order {
		if a.Affected() > 0 {
			rank++
			a.Rank = rank
		}
	}
	return order
}

func less(a, b *Account) bool { return Compare(rankKey(a), rankKey(b)) < 0 }

func rankKey(a *Account) RankKey {
	return RankKey{ID: a.ID, Tier: a.Tier, LoginFailed: a.LoginFailed, Affected: a.Affected()}
}

// MergeType is an account's customer type after adding a mailbox of type
// mailbox to an account so far of type account: business if any mailbox
// is, else residential if any is, else unknown. Start from unknown.
func MergeType(account, mailbox string) string {
	switch {
	case mailbox == results.TypeBusiness:
		return results.TypeBusiness
	case mailbox == results.TypeResidential && account == results.TypeUnknown:
		return results.TypeResidential
	}
	return account
}

// TierOf is the ranking tier of an account of a customer type.
func TierOf(customerType string, multiMailbox bool) Tier {
	switch {
	case customerType == results.TypeBusiness && multiMailbox:
		return TierBusinessMulti
	case customerType == results.TypeBusiness:
		return TierBusiness
	case customerType == results.TypeUnknown:
		return TierUnknown
	default:
		return TierResidential
	}
}

// RankKey is what ranking looks at in an account.
type RankKey struct {
	ID          string
	Tier        Tier
	LoginFailed int // mailboxes with login_failed
	Affected    int // mailboxes that need action (login failed, old mail missing)
}

// Compare orders accounts for the ranking (README "Ranking"): impacted
// (Affected > 0) before not, the others by ID; impacted ones by tier, then
// a login failure before old mail missing only, then more affected
// mailboxes, then ID in byte order. It returns -1, 0 or +1.
func Compare(a, b RankKey) int {
	ai, bi := a.Affected > 0, b.Affected > 0
	switch {
	case ai != bi:
		return boolFirst(ai)
	case !ai:
		return strings.Compare(a.ID, b.ID)
	case a.Tier != b.Tier:
		return cmp.Compare(a.Tier, b.Tier)
	case (a.LoginFailed > 0) != (b.LoginFailed > 0):
		return boolFirst(a.LoginFailed > 0)
	}
	return cmp.Or(cmp.Compare(b.Affected, a.Affected), strings.Compare(a.ID, b.ID))
}

// boolFirst is -1 when the first of two differing conditions holds.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}
