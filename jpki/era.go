package jpki

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Era is the Japanese era code that leads a JPKI birth date (otherName
// 1.2.392.200149.8.5.5.4 of the signature certificate, EYYYYMMDD):
// 0 unknown, 1 Meiji, 2 Taisho, 3 Showa, 4 Heisei, 5 Reiwa.
type Era int

// Era codes as written in the first character of a birth date value.
const (
	EraUnknown Era = 0
	EraMeiji   Era = 1
	EraTaisho  Era = 2
	EraShowa   Era = 3
	EraHeisei  Era = 4
	EraReiwa   Era = 5
)

// eraInfo lists the eras in order with the Gregorian date of their first
// day. Meiji officially began on 1868-10-23 but was applied retroactively
// from the first day of Keiō 4 (1868-01-25); birth registers follow the
// retroactive rule, so dates from 1868-01-25 count as Meiji here.
var eraInfo = []struct {
	era          Era
	name, kanji  string
	year, mo, dd int
}{
	{EraMeiji, "meiji", "明治", 1868, 1, 25},
	{EraTaisho, "taisho", "大正", 1912, 7, 30},
	{EraShowa, "showa", "昭和", 1926, 12, 25},
	{EraHeisei, "heisei", "平成", 1989, 1, 8},
	{EraReiwa, "reiwa", "令和", 2019, 5, 1},
}

// String returns the lower-case romanised era name ("meiji" … "reiwa"),
// "unknown" for EraUnknown, or "era(N)" for a code outside the table.
func (e Era) String() string {
	if e == EraUnknown {
		return "unknown"
	}
	for _, ei := range eraInfo {
		if ei.era == e {
			return ei.name
		}
	}
	return "era(" + strconv.Itoa(int(e)) + ")"
}

// Kanji returns the era name in kanji ("明治" … "令和"), or "" for
// EraUnknown and codes outside the table.
func (e Era) Kanji() string {
	for _, ei := range eraInfo {
		if ei.era == e {
			return ei.kanji
		}
	}
	return ""
}

// Valid reports whether e is one of the six defined codes.
func (e Era) Valid() bool { return e >= EraUnknown && e <= EraReiwa }

// Start returns the Gregorian first day of the era (UTC midnight), and
// false for EraUnknown.
func (e Era) Start() (time.Time, bool) {
	for _, ei := range eraInfo {
		if ei.era == e {
			return time.Date(ei.year, time.Month(ei.mo), ei.dd, 0, 0, 0, 0, time.UTC), true
		}
	}
	return time.Time{}, false
}

// ParseEra accepts a romanised name ("showa"), a kanji name ("昭和"), the
// code digit ("3") or "unknown".
func ParseEra(s string) (Era, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "unknown", "0", "不明":
		return EraUnknown, nil
	}
	for _, ei := range eraInfo {
		if strings.EqualFold(s, ei.name) || s == ei.kanji || s == strconv.Itoa(int(ei.era)) {
			return ei.era, nil
		}
	}
	return 0, fmt.Errorf("jpki: unknown era %q (want meiji, taisho, showa, heisei, reiwa, unknown or 0-5)", s)
}

// EraOf returns the era in which the Gregorian date falls, and EraUnknown
// for dates before Meiji (see eraInfo for the Meiji start rule).
func EraOf(year int, month time.Month, day int) Era {
	d := civil(year, int(month), day)
	era := EraUnknown
	for _, ei := range eraInfo {
		if d >= civil(ei.year, ei.mo, ei.dd) {
			era = ei.era
		}
	}
	return era
}

// civil packs a date into a sortable integer.
func civil(y, m, d int) int { return y*10000 + m*100 + d }

// eraYear returns the year number within era e for the Gregorian year y
// (1 is 元年).
func eraYear(e Era, y int) int {
	for _, ei := range eraInfo {
		if ei.era == e {
			return y - ei.year + 1
		}
	}
	return 0
}

// BirthDate is the value of the birth date otherName (OID …5.5.4),
// `EYYYYMMDD`: an era code followed by the Gregorian year, month and day.
// A zero Year, Month or Day means that part is unknown, which the register
// allows for some residents; such dates carry EraUnknown.
type BirthDate struct {
	Era   Era
	Year  int
	Month int
	Day   int
}

// birthDateLen is the fixed length of an encoded birth date.
const birthDateLen = 9

// NewBirthDate returns the birth date for a Gregorian date with the era
// derived from the date (EraUnknown before Meiji).
func NewBirthDate(year int, month time.Month, day int) BirthDate {
	return BirthDate{Era: EraOf(year, month, day), Year: year, Month: int(month), Day: day}
}

// ParseBirthDate parses and checks an `EYYYYMMDD` value. A known era
// requires a complete, real date inside that era; the first day of an era
// may also carry the previous era's code, because the era changed during
// that day. Era 0 allows unknown (zero) parts.
func ParseBirthDate(s string) (BirthDate, error) {
	if len(s) != birthDateLen {
		return BirthDate{}, fmt.Errorf("birth date %q: want %d digits EYYYYMMDD", s, birthDateLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return BirthDate{}, fmt.Errorf("birth date %q: non-digit at %d", s, i)
		}
	}
	b := BirthDate{Era: Era(s[0] - '0')}
	b.Year, _ = strconv.Atoi(s[1:5])
	b.Month, _ = strconv.Atoi(s[5:7])
	b.Day, _ = strconv.Atoi(s[7:9])
	if err := b.Validate(); err != nil {
		return BirthDate{}, fmt.Errorf("birth date %q: %w", s, err)
	}
	return b, nil
}

// Validate checks the rules described at ParseBirthDate.
func (b BirthDate) Validate() error {
	if !b.Era.Valid() {
		return fmt.Errorf("era code %d is not 0-5", int(b.Era))
	}
	if b.Year < 0 || b.Year > 9999 || b.Month < 0 || b.Month > 12 || b.Day < 0 || b.Day > 31 {
		return fmt.Errorf("date part out of range")
	}
	if b.Month == 0 && b.Day != 0 {
		return fmt.Errorf("day without month")
	}
	if (b.Year == 0 || b.Month == 0 || b.Day == 0) && b.Era != EraUnknown {
		return fmt.Errorf("%s era with an incomplete date", b.Era)
	}
	if b.Complete() {
		t := time.Date(b.Year, time.Month(b.Month), b.Day, 0, 0, 0, 0, time.UTC)
		if t.Day() != b.Day || int(t.Month()) != b.Month {
			return fmt.Errorf("%04d-%02d-%02d is not a calendar date", b.Year, b.Month, b.Day)
		}
	}
	if b.Era == EraUnknown {
		return nil
	}
	want := EraOf(b.Year, time.Month(b.Month), b.Day)
	if want == b.Era {
		return nil
	}
	if start, ok := want.Start(); ok && want == b.Era+1 &&
		start.Year() == b.Year && int(start.Month()) == b.Month && start.Day() == b.Day {
		return nil // first day of an era written with the old era
	}
	return fmt.Errorf("%04d-%02d-%02d is in era %s, not %s", b.Year, b.Month, b.Day, want, b.Era)
}

// Complete reports whether year, month and day are all known.
func (b BirthDate) Complete() bool { return b.Year != 0 && b.Month != 0 && b.Day != 0 }

// Encode returns the `EYYYYMMDD` form.
func (b BirthDate) Encode() string {
	return fmt.Sprintf("%d%04d%02d%02d", int(b.Era), b.Year, b.Month, b.Day)
}

// String returns the ISO 8601 date ("1990-04-01"), with "00" for unknown
// parts.
func (b BirthDate) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", b.Year, b.Month, b.Day)
}

// Time returns the date as midnight UTC (a civil date: the location carries
// no meaning), and false when a part is unknown.
func (b BirthDate) Time() (time.Time, bool) {
	if !b.Complete() {
		return time.Time{}, false
	}
	return time.Date(b.Year, time.Month(b.Month), b.Day, 0, 0, 0, 0, time.UTC), true
}

// Gregorian returns the date as written in Japanese with the Gregorian
// year, e.g. "1990年4月1日" (the mdoc element birth_date_unicode). Unknown parts
// are left out.
func (b BirthDate) Gregorian() string {
	var sb strings.Builder
	if b.Year != 0 {
		fmt.Fprintf(&sb, "%d年", b.Year)
	}
	if b.Month != 0 {
		fmt.Fprintf(&sb, "%d月", b.Month)
	}
	if b.Day != 0 {
		fmt.Fprintf(&sb, "%d日", b.Day)
	}
	return sb.String()
}

// Wareki returns the date with the era year, e.g. "平成2年4月1日", "令和元年5月1日",
// or the Gregorian form when the era is unknown.
func (b BirthDate) Wareki() string {
	if b.Era == EraUnknown || !b.Complete() {
		return b.Gregorian()
	}
	y := eraYear(b.Era, b.Year)
	ys := strconv.Itoa(y)
	if y == 1 {
		ys = "元"
	}
	return fmt.Sprintf("%s%s年%d月%d日", b.Era.Kanji(), ys, b.Month, b.Day)
}
