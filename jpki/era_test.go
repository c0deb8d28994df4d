package jpki

import (
	"testing"
	"time"
)

func TestEraOf(t *testing.T) {
	tests := []struct {
		date string
		want Era
	}{
		{"1868-01-24", EraUnknown},
		{"1868-01-25", EraMeiji}, // retroactive start of Meiji
		{"1868-10-23", EraMeiji},
		{"1912-07-29", EraMeiji},
		{"1912-07-30", EraTaisho},
		{"1926-12-24", EraTaisho},
		{"1926-12-25", EraShowa},
		{"1989-01-07", EraShowa},
		{"1989-01-08", EraHeisei},
		{"2019-04-30", EraHeisei},
		{"2019-05-01", EraReiwa},
		{"2030-01-01", EraReiwa},
	}
	for _, tt := range tests {
		d, err := time.Parse(time.DateOnly, tt.date)
		if err != nil {
			t.Fatal(err)
		}
		if got := EraOf(d.Year(), d.Month(), d.Day()); got != tt.want {
			t.Errorf("EraOf(%s) = %s, want %s", tt.date, got, tt.want)
		}
	}
}

func TestParseBirthDate(t *testing.T) {
	tests := []struct {
		in      string
		want    BirthDate
		wareki  string
		wantErr bool
	}{
		{in: "119000101", want: BirthDate{EraMeiji, 1900, 1, 1}, wareki: "明治33年1月1日"},
		{in: "118680125", want: BirthDate{EraMeiji, 1868, 1, 25}, wareki: "明治元年1月25日"},
		{in: "219200505", want: BirthDate{EraTaisho, 1920, 5, 5}, wareki: "大正9年5月5日"},
		{in: "319450815", want: BirthDate{EraShowa, 1945, 8, 15}, wareki: "昭和20年8月15日"},
		{in: "419900401", want: BirthDate{EraHeisei, 1990, 4, 1}, wareki: "平成2年4月1日"},
		{in: "520190501", want: BirthDate{EraReiwa, 2019, 5, 1}, wareki: "令和元年5月1日"},
		{in: "520240229", want: BirthDate{EraReiwa, 2024, 2, 29}, wareki: "令和6年2月29日"},
		// The first day of an era may carry the previous era's code.
		{in: "419190501", wantErr: true},
		{in: "420190501", want: BirthDate{EraHeisei, 2019, 5, 1}, wareki: "平成31年5月1日"},
		{in: "319890108", want: BirthDate{EraShowa, 1989, 1, 8}, wareki: "昭和64年1月8日"},
		// Unknown era: complete or partial dates.
		{in: "019900401", want: BirthDate{EraUnknown, 1990, 4, 1}, wareki: "1990年4月1日"},
		{in: "019900000", want: BirthDate{EraUnknown, 1990, 0, 0}, wareki: "1990年"},
		{in: "000000000", want: BirthDate{}, wareki: ""},
		// Errors.
		{in: "419900431", wantErr: true}, // April 31st
		{in: "420230229", wantErr: true}, // not a leap year
		{in: "619900401", wantErr: true}, // era code 6
		{in: "319900401", wantErr: true}, // 1990 is Heisei, not Showa
		{in: "519900401", wantErr: true}, // nor Reiwa
		{in: "419900000", wantErr: true}, // known era, incomplete date
		{in: "019900010", wantErr: true}, // day without month
		{in: "41990041", wantErr: true},  // too short
		{in: "4199004011", wantErr: true},
		{in: "4199O0401", wantErr: true}, // letter O
		{in: "019901301", wantErr: true}, // month 13
		{in: "118000101", wantErr: true}, // before Meiji
	}
	for _, tt := range tests {
		got, err := ParseBirthDate(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseBirthDate(%q) = %+v, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseBirthDate(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseBirthDate(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.Encode() != tt.in {
			t.Errorf("Encode() = %q, want %q", got.Encode(), tt.in)
		}
		if w := got.Wareki(); w != tt.wareki {
			t.Errorf("Wareki(%q) = %q, want %q", tt.in, w, tt.wareki)
		}
	}
}

func TestBirthDateForms(t *testing.T) {
	b := NewBirthDate(1990, time.April, 1)
	if b.Era != EraHeisei {
		t.Fatalf("era %s, want heisei", b.Era)
	}
	if got := b.Gregorian(); got != "1990年4月1日" {
		t.Errorf("Gregorian = %q", got)
	}
	if got := b.String(); got != "1990-04-01" {
		t.Errorf("String = %q", got)
	}
	tm, ok := b.Time()
	if !ok || !tm.Equal(time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Time = %v %v", tm, ok)
	}
	if _, ok := (BirthDate{Year: 1990}).Time(); ok {
		t.Error("partial date has a Time")
	}
}

func TestParseEra(t *testing.T) {
	for in, want := range map[string]Era{"meiji": EraMeiji, "Taisho": EraTaisho, "昭和": EraShowa, "4": EraHeisei, "reiwa": EraReiwa, "unknown": EraUnknown, "0": EraUnknown} {
		got, err := ParseEra(in)
		if err != nil || got != want {
			t.Errorf("ParseEra(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "edo", "6", "auto"} {
		if _, err := ParseEra(in); err == nil {
			t.Errorf("ParseEra(%q) succeeded", in)
		}
	}
}
