package demo

import (
	"fmt"
	"testing"
)

func TestZZDump(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	for _, mb := range inc.Mailboxes {
		e := mb.Entry
		fmt.Printf("%s %-40s %-12s %-18s %s %-7s %-26q %-16s %-16s b=%d a=%d\n", e.AccountID, e.Mailbox, e.CustomerType, e.Product, e.Created.Format("2006-01-02"), e.Access, e.ContactName, e.ContactPhone, mb.Expected, mb.ExpectedBefore, mb.ExpectedAfter)
		for _, f := range mb.Folders {
			fmt.Printf("     %-16s ns=%v uv=%d %v\n", f.Name, f.NoSelect, f.UIDValidity, f.Messages)
		}
	}
}
