package dovecottest

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestExplorePenalty(t *testing.T) {
	for name, opts := range map[string][]Option{
		"default":          nil,
		"trusted":          {Trusted()},
		"nopenalty":        {NoPenalty()},
		"nopenalty+delay0": {NoPenalty(), AuthFailureDelay(0)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, Fixture{Users: []User{{Name: "a", Password: "pw"}}}, opts...)
			if name == "trusted" {
				out, err := s.Doveadm("penalty")
				t.Log(out, err)
				o2, _ := execOut("doveconf", "-c", s.conf, "login_trusted_networks")
				t.Log(o2)
			}
			for i, pw := range []string{"x", "x", "x", "pw", "x"} {
				start := time.Now()
				c, err := imapclient.DialInsecure(s.Addr, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = c.Login("a", pw).Wait()
				var ie *imap.Error
				errors.As(err, &ie)
				t.Logf("%s #%d pw=%s: %v in %v", name, i, pw, err, time.Since(start).Round(10*time.Millisecond))
				c.Close()
			}
			out, _ := s.Doveadm("penalty")
			t.Log(out)
			if name == "nopenalty" {
				t.Log(s.Log())
			}
		})
	}
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
