package mdoc

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

func jst(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, JST) }

func TestAgeAt(t *testing.T) {
	cases := []struct {
		name  string
		birth FullDate
		at    time.Time
		want  int
	}{
		{"day before 20th birthday, last minute", FullDate{2006, 4, 2}, jst(2026, 4, 1, 23, 59), 19},
		{"20th birthday, first minute", FullDate{2006, 4, 2}, jst(2026, 4, 2, 0, 0), 20},
		{"UTC instant still the day before in UTC", FullDate{2006, 4, 2}, time.Date(2026, 4, 1, 15, 0, 0, 0, time.UTC), 20},
		{"UTC instant one minute earlier", FullDate{2006, 4, 2}, time.Date(2026, 4, 1, 14, 59, 0, 0, time.UTC), 19},
		{"leap-day birth, 28 Feb of common year", FullDate{2004, 2, 29}, jst(2022, 2, 28, 23, 59), 17},
		{"leap-day birth, 1 Mar of common year", FullDate{2004, 2, 29}, jst(2022, 3, 1, 0, 0), 18},
		{"leap-day birth, 29 Feb of leap year", FullDate{2004, 2, 29}, jst(2024, 2, 29, 0, 0), 20},
		{"leap-day birth, 28 Feb of leap year", FullDate{2004, 2, 29}, jst(2024, 2, 28, 12, 0), 19},
		{"born today", FullDate{2026, 11, 23}, jst(2026, 11, 23, 10, 0), 0},
	}
	for _, tc := range cases {
		if got := AgeAt(tc.birth, tc.at); got != tc.want {
			t.Errorf("%s: AgeAt = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNearestAgeOver(t *testing.T) {
	issued := map[int]bool{18: true, 20: true, 65: false}
	cases := []struct {
		nn     int
		wantMM int
		wantOK bool
	}{
		{18, 18, true},
		{20, 20, true},
		{16, 18, true}, // smallest true MM ≥ NN
		{21, 0, false}, // no true MM ≥ 21, no false MM ≤ 21
		{70, 65, true}, // … largest false MM ≤ NN
		{66, 65, true},
	}
	for _, tc := range cases {
		mm, ok := NearestAgeOver(tc.nn, issued)
		if ok != tc.wantOK || (ok && mm != tc.wantMM) {
			t.Errorf("NN=%d: got (%d,%v), want (%d,%v)", tc.nn, mm, ok, tc.wantMM, tc.wantOK)
		}
	}
	// Under 18: age_over_18 and 20 false.
	young := map[int]bool{18: false, 20: false}
	if mm, ok := NearestAgeOver(21, young); !ok || mm != 20 {
		t.Errorf("young NN=21: %d %v", mm, ok)
	}
	if _, ok := NearestAgeOver(16, young); ok {
		t.Error("young NN=16 must return nothing")
	}
	for _, c := range []struct {
		nn, mm        int
		v             bool
		over, decided bool
	}{
		{20, 20, true, true, true}, {20, 18, true, false, false}, {18, 20, true, true, true},
		{20, 18, false, false, true}, {18, 20, false, false, false},
	} {
		over, decided := AgeOverAnswer(c.nn, c.mm, c.v)
		if over != c.over || decided != c.decided {
			t.Errorf("AgeOverAnswer(%d,%d,%v) = %v,%v", c.nn, c.mm, c.v, over, decided)
		}
	}
	if n, ok := ParseAgeOver("age_over_20"); !ok || n != 20 {
		t.Error("ParseAgeOver")
	}
	if _, ok := ParseAgeOver("age_over_2"); ok {
		t.Error("ParseAgeOver accepted one digit")
	}
}

// TestParseAgeOverForms pins the accepted form to the regular expression
// ^age_over_([0-9]{2})$ that ParseAgeOver replaced, and FuzzParseAgeOver
// keeps the two in step on arbitrary input.
func TestParseAgeOverForms(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want int
		ok   bool
	}{
		{"age_over_00", 0, true},
		{"age_over_18", 18, true},
		{"age_over_99", 99, true},
		{"age_over_1", 0, false},
		{"age_over_020", 0, false},
		{"age_over_+2", 0, false},
		{"age_over_-1", 0, false},
		{"age_over_２０", 0, false}, // fullwidth digits
		{"Age_over_20", 0, false},
		{"age_over_20\n", 0, false},
		{" age_over_20", 0, false},
		{"age_over_", 0, false},
		{"", 0, false},
	} {
		n, ok := ParseAgeOver(tc.id)
		if ok != tc.ok || n != tc.want {
			t.Errorf("ParseAgeOver(%q) = %d, %v; want %d, %v", tc.id, n, ok, tc.want, tc.ok)
		}
		if ok != ageOverRE.MatchString(tc.id) {
			t.Errorf("ParseAgeOver(%q) and the regular expression disagree", tc.id)
		}
	}
}

var ageOverRE = regexp.MustCompile(`^age_over_([0-9]{2})$`)

func FuzzParseAgeOver(f *testing.F) {
	for _, s := range []string{"age_over_20", "age_over_2", "age_over_x9", "age_over_200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, ok := ParseAgeOver(id)
		m := ageOverRE.FindStringSubmatch(id)
		if ok != (m != nil) {
			t.Fatalf("ParseAgeOver(%q) ok=%v, regexp match=%v", id, ok, m != nil)
		}
		if ok && fmt.Sprintf("%02d", n) != m[1] {
			t.Fatalf("ParseAgeOver(%q) = %d, regexp says %s", id, n, m[1])
		}
	})
}

var strictTDateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`)

func TestIsStrictTDate(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"2026-12-05T09:00:00Z", true},
		{"2026-12-05T09:00:00.5Z", false},
		{"2026-12-05T09:00:00+09:00", false},
		{"2026-12-05T09:00:00z", false},
		{"2026-12-05t09:00:00Z", false},
		{"2026-12-05 09:00:00Z", false},
		{"20261-2-05T09:00:00Z", false},
		{"2026-12-05T09:00:0Z", false},
		{"", false},
	} {
		if got := isStrictTDate(tc.s); got != tc.ok || got != strictTDateRE.MatchString(tc.s) {
			t.Errorf("isStrictTDate(%q) = %v; want %v", tc.s, got, tc.ok)
		}
	}
}

func FuzzIsStrictTDate(f *testing.F) {
	f.Add("2026-12-05T09:00:00Z")
	f.Add("2026-12-05T09:00:00.123Z")
	f.Fuzz(func(t *testing.T, s string) {
		if isStrictTDate(s) != strictTDateRE.MatchString(s) {
			t.Fatalf("isStrictTDate(%q) disagrees with the regular expression", s)
		}
	})
}
