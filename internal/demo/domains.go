package demo

import "slices"

// ISPDomains returns the demo ISP's own mail domains, for the rules'
// isp_domains: mailboxes on any other domain belong to businesses.
func ISPDomains() []string { return slices.Clone(ispDomains) }
