package demo

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
)

// InventoryHeader returns the header row WriteInventory writes, in the
// billing system's column names.
func InventoryHeader() []string {
	return []string{"customer_id", "email", "segment", "product", "opened", "access", "contact", "phone"}
}

// WriteInventory writes the incident's inventory as billing exports it: CSV
// separated by semicolons, UTF-8 with a byte order mark, CRLF line ends, the
// InventoryHeader row, then one row per mailbox in incident order (row i is
// line i+2, as Entry.Source says). Account IDs are written exactly as text
// ("00420"), opened dates as DD.MM.YYYY. Passwords are not written.
//
// The file is written to a temporary file in the same directory and renamed
// over path, so a reader never sees half a file; it is created with mode
// 0600 because it names customers.
func (inc *Incident) WriteInventory(path string) error {
	return inc.writeInventory(path, false)
}

// WriteInventoryWithPasswords is WriteInventory with a ninth column,
// "password", holding each mailbox's own password, for demonstrating
// --auth password.
func (inc *Incident) WriteInventoryWithPasswords(path string) error {
	return inc.writeInventory(path, true)
}

func (inc *Incident) writeInventory(path string, withPasswords bool) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod states it rather than relying on it.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	if _, err := tmp.WriteString("\uFEFF"); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	w := csv.NewWriter(tmp)
	w.Comma = ';'
	w.UseCRLF = true
	header := InventoryHeader()
	if withPasswords {
		header = append(header, "password")
	}
	if err := w.Write(header); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	for i := range inc.Mailboxes {
		e := inc.Mailboxes[i].Entry
		opened := ""
		if c := e.Created(); !c.IsZero() {
			opened = c.Format("02.01.2006")
		}
		row := []string{e.AccountID(), e.Mailbox(), e.CustomerType(), e.Product(), opened, e.Access(), e.ContactName(), e.ContactPhone()}
		if withPasswords {
			row = append(row, e.Password())
		}
		if err := w.Write(row); err != nil {
			return fmt.Errorf("write inventory %s: row %d: %w", path, i+2, err)
		}
	}
	if w.Flush(); w.Error() != nil {
		return fmt.Errorf("write inventory %s: %w", path, w.Error())
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write inventory %s: %w", path, err)
	}
	return nil
}
