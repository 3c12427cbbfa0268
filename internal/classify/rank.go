package classify

import (
	"sort"

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
			switch {
			case m.CustomerType == results.TypeBusiness:
				a.CustomerType = results.TypeBusiness
			case m.CustomerType == results.TypeResidential && a.CustomerType == results.TypeUnknown:
				a.CustomerType = results.TypeResidential
			}
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
		switch {
		case a.CustomerType == results.TypeBusiness && a.MultiMailbox:
			a.Tier = TierBusinessMulti
		case a.CustomerType == results.TypeBusiness:
			a.Tier = TierBusiness
		case a.CustomerType == results.TypeUnknown:
			a.Tier = TierUnknown
		default:
			a.Tier = TierResidential
		}
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

func less(a, b *Account) bool {
	ai, bi := a.Affected() > 0, b.Affected() > 0
	if ai != bi {
		return ai
	}
	if !ai {
		return a.ID < b.ID
	}
	if a.Tier != b.Tier {
		return a.Tier < b.Tier
	}
	if (a.LoginFailed > 0) != (b.LoginFailed > 0) {
		return a.LoginFailed > 0
	}
	if a.Affected() != b.Affected() {
		return a.Affected() > b.Affected()
	}
	return a.ID < b.ID
}
