package dovecottest

import (
	"crypto/tls"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func TestExplore(t *testing.T) {
	opts := func() []Option {
		switch os.Getenv("EXPLORE") {
		case "trusted":
			return []Option{Trusted()}
		case "nodelay":
			return []Option{Trusted(), AuthFailureDelay(0)}
		case "nodelayonly":
			return []Option{AuthFailureDelay(0)}
		}
		return nil
	}
	d := time.Date(2024, 3, 1, 10, 11, 12, 0, time.UTC)
	s := Start(t, Fixture{Users: []User{
		{Name: "anna@example.com", Password: "pw1", Folders: []Folder{{Name: "INBOX", Messages: []Message{{Date: d, Flags: "S"}, {Date: d.Add(time.Hour), New: true}}}, {Name: "Archiv/Prüfung", Messages: []Message{{Date: d}}}}},
		{Name: "gone@example.com", Password: "pw2", Absent: true},
		{Name: "empty@example.com", Password: "pw3", NoMaildir: true},
	}}, opts()...)
	t.Logf("%+v", s)
	out, _ := exec.Command("ps", "-eo", "pid,pgid,ppid,user,args").CombinedOutput()
	t.Logf("%s", out)
	try := func(name string, f func(c *imapclient.Client) error) {
		start := time.Now()
		c, err := imapclient.DialInsecure(s.Addr, &imapclient.Options{DebugWriter: nil})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = f(c)
		var ie *imap.Error
		if errors.As(err, &ie) {
			t.Logf("%s: %v type=%q code=%q text=%q (%v)", name, err, ie.Type, ie.Code, ie.Text, time.Since(start))
		} else {
			t.Logf("%s: err=%v (%v)", name, err, time.Since(start))
		}
	}
	try("master ok", func(c *imapclient.Client) error {
		if err := c.Login("anna@example.com*"+s.MasterUser, s.MasterPassword).Wait(); err != nil {
			return err
		}
		l, err := c.List("", "*", nil).Collect()
		for _, x := range l {
			t.Logf("list %q %v", x.Mailbox, x.Attrs)
		}
		t.Logf("caps %v", c.Caps())
		return err
	})
	try("sasl", func(c *imapclient.Client) error {
		return c.Authenticate(sasl.NewPlainClient("anna@example.com", s.MasterUser, s.MasterPassword))
	})
	try("master absent", func(c *imapclient.Client) error {
		return c.Login("gone@example.com*"+s.MasterUser, s.MasterPassword).Wait()
	})
	try("master wrong", func(c *imapclient.Client) error {
		return c.Login("anna@example.com*"+s.MasterUser, "bad").Wait()
	})
	try("own absent", func(c *imapclient.Client) error {
		return c.Login("gone@example.com", "pw2").Wait()
	})
	try("own wrong", func(c *imapclient.Client) error {
		return c.Login("anna@example.com", "bad").Wait()
	})
	out2, _ := s.Doveadm("penalty")
	t.Logf("penalty: %s", out2)
	try("nomaildir", func(c *imapclient.Client) error {
		if err := c.Login("empty@example.com*"+s.MasterUser, s.MasterPassword).Wait(); err != nil {
			return err
		}
		l, err := c.List("", "*", nil).Collect()
		for _, x := range l {
			t.Logf("list %q %v", x.Mailbox, x.Attrs)
		}
		return err
	})
	try("tls", func(c *imapclient.Client) error { return nil })
	c, err := imapclient.DialTLS(s.TLSAddr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	t.Log(err)
	c.Close()
	t.Log(s.Log())
	t.Log(os.ReadFile(s.MaildirPath("empty@example.com") + "/../"))
}
