// Package classify decides, from the inventory and a probe, each mailbox's
// customer type and impact, groups mailboxes into accounts and ranks the
// impacted accounts.
//
// Customer type, first rule that decides wins:
//  1. the inventory's customer_type column, mapped through [types];
//  2. the product column, matched against [[product]] patterns;
//  3. the mailbox's domain: a domain that is not one of isp_domains is a
//     business's own domain;
//  4. otherwise unknown (never silently residential).
package classify

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/impact-ops/impact/internal/results"
)

// Rules is the settings file (TOML). Every field has a default; a file
// only needs what differs. Example:
//
//	isp_domains = ["isp.example", "mail.isp.example"]
//
//	[types]
//	business    = ["business", "b2b", "sme", "corporate"]
//	residential = ["residential", "private", "consumer", "home"]
//
//	[[product]]
//	match = "business*"   # shell pattern, case-insensitive
//	type  = "business"
//
//	[old_mail]
//	kept_on_server = ["imap", "webmail"]
//	not_kept       = ["pop3"]
type Rules struct {
	// ISPDomains are the ISP's own mail domains (residential and business
	// customers alike). A mailbox on any other domain is a business.
	ISPDomains []string `toml:"isp_domains"`
	// Types maps inventory customer_type values (case-insensitive) to a type.
	Types struct {
		Business    []string `toml:"business"`
		Residential []string `toml:"residential"`
	} `toml:"types"`
	// Product patterns, tried in order.
	Product []ProductRule `toml:"product"`
	// OldMail says which access values mean mail was kept on the server
	// (IMAP, webmail) and which mean it was not (POP3 downloads and deletes).
	OldMail struct {
		KeptOnServer []string `toml:"kept_on_server"`
		NotKept      []string `toml:"not_kept"`
	} `toml:"old_mail"`
}

// ProductRule maps products matching a shell pattern (path.Match syntax,
// case-insensitive) to a customer type.
type ProductRule struct {
	Match string `toml:"match"`
	Type  string `toml:"type"`
}

// DefaultRules returns the rules used without a settings file.
func DefaultRules() *Rules {
	r := &Rules{}
	r.Types.Business = []string{"business", "b2b", "sme", "soho", "corporate", "enterprise", "company", "commercial", "gewerbe", "geschäftskunde", "pro"}
	r.Types.Residential = []string{"residential", "private", "consumer", "home", "b2c", "privat", "privatkunde", "individual"}
	r.Product = []ProductRule{
		{Match: "*business*", Type: results.TypeBusiness},
		{Match: "*office*", Type: results.TypeBusiness},
		{Match: "*home*", Type: results.TypeResidential},
		{Match: "*private*", Type: results.TypeResidential},
		{Match: "*family*", Type: results.TypeResidential},
	}
	r.OldMail.KeptOnServer = []string{"imap", "webmail", "web", "activesync", "exchange", "mapi"}
	r.OldMail.NotKept = []string{"pop3", "pop"}
	return r
}

// LoadRules reads a TOML settings file over the defaults. Lists in the file
// replace the default lists. Unknown keys and invalid types are errors with
// the file's line.
func LoadRules(file string) (*Rules, error) {
	r := DefaultRules()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	md, err := toml.Decode(string(b), r)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", file, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var keys []string
	for _, k := range md.Undecoded() {
		// The same settings file holds the playbook (internal/playbook).
		if len(k) > 0 && k[0] == "playbook" {
			continue
		}
		keys = append(keys, k.String())
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s (known: isp_domains, types.business, types.residential, product.match, product.type, old_mail.kept_on_server, old_mail.not_kept, playbook.IMPACT.TYPE.action/script)", file, strings.Join(keys, ", "))
	}
	for _, v := range r.Types.Business {
		if inFold(r.Types.Residential, v) {
			return nil, fmt.Errorf("%s: %q is listed under both types.business and types.residential", file, v)
		}
	}
	for _, v := range r.OldMail.KeptOnServer {
		if inFold(r.OldMail.NotKept, v) {
			return nil, fmt.Errorf("%s: %q is listed under both old_mail.kept_on_server and old_mail.not_kept", file, v)
		}
	}
	for i, p := range r.Product {
		if _, err := path.Match(p.Match, ""); err != nil {
			return nil, fmt.Errorf("%s: product rule %d: bad pattern %q: %v", file, i+1, p.Match, err)
		}
		if p.Type != results.TypeBusiness && p.Type != results.TypeResidential {
			return nil, fmt.Errorf("%s: product rule %d (%q): type must be %q or %q, got %q", file, i+1, p.Match, results.TypeBusiness, results.TypeResidential, p.Type)
		}
	}
	return r, nil
}

func inFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}

// CustomerType decides a mailbox's type and names the rule that did:
// "inventory", "product", "domain" or "none".
func (r *Rules) CustomerType(mailbox, rawType, product string) (typ, source string) {
	if t := strings.TrimSpace(rawType); t != "" {
		switch {
		case inFold(r.Types.Business, t):
			return results.TypeBusiness, "inventory"
		case inFold(r.Types.Residential, t):
			return results.TypeResidential, "inventory"
		}
	}
	if p := strings.ToLower(strings.TrimSpace(product)); p != "" {
		for _, pr := range r.Product {
			if ok, _ := path.Match(strings.ToLower(pr.Match), p); ok {
				return pr.Type, "product"
			}
		}
	}
	if i := strings.LastIndexByte(mailbox, '@'); i >= 0 && len(r.ISPDomains) > 0 {
		dom := strings.ToLower(mailbox[i+1:])
		if !inFold(r.ISPDomains, dom) {
			return results.TypeBusiness, "domain"
		}
	}
	return results.TypeUnknown, "none"
}
