package scan

import "testing"

func TestPenaltyObserve(t *testing.T) {
	tests := []struct {
		name   string
		logins [][3]int64 // login ms, rest ms, refused (1)
		want   bool
	}{
		{"refusals alone are slow but no penalty", repeat([3]int64{2000, 0, 1}, 5, [3]int64{4, 3, 0}, 20), false},
		{"held logins after refusals", repeat([3]int64{2000, 0, 1}, 3, [3]int64{4000, 5, 0}, 12), true},
		{"slow logins with slow sessions are load, not penalty", repeat([3]int64{2000, 0, 1}, 3, [3]int64{4000, 3000, 0}, 12), false},
		{"held logins without any refusal", repeat([3]int64{4000, 5, 0}, 20, [3]int64{4, 3, 0}, 0), false},
	}
	for _, tt := range tests {
		var p penalty
		got := false
		for _, l := range tt.logins {
			if p.observe(l[0], l[1], l[2] == 1) {
				got = true
			}
		}
		if got != tt.want {
			t.Errorf("%s: detected %v, want %v", tt.name, got, tt.want)
		}
	}
}

func repeat(a [3]int64, na int, b [3]int64, nb int) [][3]int64 {
	var out [][3]int64
	for range na {
		out = append(out, a)
	}
	for range nb {
		out = append(out, b)
	}
	return out
}
