// Package playbook says, for each mailbox impact and customer type, what
// support does about it (the recommended action) and what an agent tells the
// customer (the script). The workbook shows both on the Priority, Lookup and
// queue sheets.
//
// Built-in defaults fit a storage incident; the settings file (the TOML file
// also read by internal/classify) can override any entry:
//
//	[playbook.login_failed.business]
//	action = "Escalate to the business restore team (priority restore)."
//	script = "Your mailbox is being restored with priority; we will call you back."
//
//	[playbook.missing_old_mail.any]
//	script = "Older mail is being restored from backup; new mail keeps arriving."
//
// The second key is an impact (login_failed, missing_old_mail, probe_error,
// no_old_mail, ok), the third a customer type (business, residential,
// unknown) or "any" for every type. Each field falls back on its own, most
// specific first: the file's (impact, type), the file's (impact, any), the
// default (impact, type), the default (impact, any). An entry that sets
// only script keeps the action it would have had; an explicit "" blanks a
// field.
package playbook

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/impact-ops/impact/internal/results"
)

// Any is the customer type of an entry that applies to every type.
const Any = "any"

// Entry is the playbook's text for one (impact, customer type).
type Entry struct {
	// Action is what support does, e.g. "Escalate to the business restore
	// team: priority restore of the mailbox."
	Action string
	// Script is what an agent tells the customer on the phone.
	Script string
}

// key names an entry: an impact from results.Impacts and a customer type
// (results.Type* or Any).
type key struct {
	impact results.Impact
	typ    string
}

// override is an entry from the settings file; nil fields were not set.
type override struct {
	Action *string `toml:"action"`
	Script *string `toml:"script"`
}

// Playbook maps (impact, customer type) to an Entry. The zero value and a
// nil *Playbook give the defaults. A Playbook is not changed after Load, so
// it is safe for concurrent use.
type Playbook struct {
	file map[key]override
}

// Default returns the built-in playbook.
func Default() *Playbook { return &Playbook{} }

// defaults are the built-in entries; every impact has an Any entry, so a
// lookup always ends with text.
var defaults = map[key]Entry{
	{results.ImpactLoginFailed, results.TypeBusiness}: {
		Action: "Escalate to the business restore team: priority restore of the mailbox.",
		Script: "Your mailbox was affected by a storage incident on our side and cannot be opened at the moment. " +
			"Our business restore team is restoring it with priority, and we will let you know as soon as it works again.",
	},
	{results.ImpactLoginFailed, results.TypeResidential}: {
		Action: "Self-service: the customer sends a message to their own address, which rebuilds the mailbox.",
		Script: "Your mailbox was affected by a storage incident on our side. To bring it back, send an e-mail to your own address, " +
			"for example from your phone or another account. This rebuilds your mailbox, and it works again within about 30 minutes.",
	},
	{results.ImpactLoginFailed, Any}: {
		Action: "Confirm the customer type in billing: a business goes to the business restore team; " +
			"a residential customer sends a message to their own address to rebuild the mailbox.",
		Script: "Your mailbox was affected by a storage incident on our side and cannot be opened at the moment. " +
			"We are working on it and will make sure it works again as soon as possible.",
	},
	{results.ImpactMissingOldMail, Any}: {
		Action: "None on the mailbox: older mail is being restored from backup; tell the customer.",
		Script: "Your mailbox works, and new mail is unaffected and keeps arriving. " +
			"Messages from before the incident are being restored from backup and will reappear in your folders.",
	},
	{results.ImpactPartiallyRestored, Any}: {
		Action: "None on the mailbox: the restore from backup is under way but not complete; check the folders short in the evidence with the restore team.",
		Script: "Your mailbox works, and part of your older mail is back. " +
			"The rest of the messages from before the incident are still being restored and will reappear in your folders.",
	},
	{results.ImpactProbeError, Any}: {
		Action: "Rescan the mailbox before contacting the customer: the check did not finish.",
		Script: "We are still checking your mailbox after a storage incident on our side. If anything needs your attention, we will contact you.",
	},
	{results.ImpactNoOldMail, Any}: {
		Action: "No action.",
		Script: "Your mailbox works and new mail keeps arriving. We found no older mail stored on the server, " +
			"for example because your mail program downloads and removes it.",
	},
	{results.ImpactOK, Any}: {
		Action: "No action.",
		Script: "Your mailbox was checked and your mail is complete; nothing needs to be done.",
	},
}

// types are the customer types an entry may name.
var types = []string{results.TypeBusiness, results.TypeResidential, results.TypeUnknown, Any}

// For returns the entry for a mailbox or account with impact and customer
// type. An impact outside results.Impacts is looked up as probe_error (not
// known means "needs a look"), a type outside business/residential as
// unknown.
func (p *Playbook) For(impact results.Impact, customerType string) Entry {
	if !slices.Contains(results.Impacts, impact) {
		impact = results.ImpactProbeError
	}
	if customerType != results.TypeBusiness && customerType != results.TypeResidential {
		customerType = results.TypeUnknown
	}
	exact, any := key{impact, customerType}, key{impact, Any}
	var e Entry
	e.Action = p.field(exact, any, func(o override) *string { return o.Action }, func(d Entry) string { return d.Action })
	e.Script = p.field(exact, any, func(o override) *string { return o.Script }, func(d Entry) string { return d.Script })
	return e
}

func (p *Playbook) field(exact, any key, fromFile func(override) *string, fromDefault func(Entry) string) string {
	if p != nil {
		for _, k := range []key{exact, any} {
			if o, ok := p.file[k]; ok && fromFile(o) != nil {
				return *fromFile(o)
			}
		}
	}
	if d, ok := defaults[exact]; ok {
		return fromDefault(d)
	}
	return fromDefault(defaults[any])
}

// Load reads the [playbook] table of a TOML settings file over the
// defaults. Other tables and keys of the file are left to their own readers
// (internal/classify). A file without a [playbook] table gives the defaults.
//
// Errors: the file cannot be read; TOML syntax (with the file's line); an
// impact or customer type that does not exist; a key other than action or
// script; a value that is not a string.
func Load(file string) (*Playbook, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	return parse(file, string(b))
}

func parse(name, text string) (*Playbook, error) {
	var doc struct {
		Playbook map[string]map[string]override `toml:"playbook"`
	}
	md, err := toml.Decode(text, &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: playbook: %w", name, err)
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "playbook" {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s (a playbook entry has only action and script)", name, strings.Join(unknown, ", "))
	}
	p := &Playbook{file: map[key]override{}}
	for impact, byType := range doc.Playbook {
		if !slices.Contains(results.Impacts, results.Impact(impact)) {
			return nil, fmt.Errorf("%s: playbook.%s: unknown impact %q (known: %s)", name, impact, impact, joinImpacts())
		}
		for typ, o := range byType {
			if !slices.Contains(types, typ) {
				return nil, fmt.Errorf("%s: playbook.%s.%s: unknown customer type %q (known: %s)", name, impact, typ, typ, strings.Join(types, ", "))
			}
			p.file[key{results.Impact(impact), typ}] = o
		}
	}
	return p, nil
}

func joinImpacts() string {
	s := make([]string, len(results.Impacts))
	for i, im := range results.Impacts {
		s[i] = string(im)
	}
	return strings.Join(s, ", ")
}
