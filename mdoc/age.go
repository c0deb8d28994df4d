package mdoc

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// JST is Asia/Tokyo. Ages of My Number Card holders are computed in JST.
// Japan has had no daylight saving since 1951, so a fixed zone is exact and
// does not depend on the machine's tzdata.
var JST = time.FixedZone("JST", 9*60*60)

// AgeAt returns the age in completed years at instant at, in JST, of a
// person born on birth.
//
// Convention (documented choice): Japanese law (年齢計算ニ関スル法律) counts
// the day of birth and has the age reached at the end of the day before
// the birthday; as an instant that is 00:00 JST on the birthday, which is
// also when the ISO convention ("on the birthday") has it. So the age
// changes at 00:00 JST on the birthday. For a 29 February birthday the law
// reaches the age at the end of 28 February in common years, that is at
// 00:00 JST on 1 March, which is what this function returns.
func AgeAt(birth FullDate, at time.Time) int {
	t := at.In(JST)
	y, m, d := t.Date()
	age := y - birth.Year
	bm, bd := birth.Month, birth.Day
	if bm == time.February && bd == 29 && !isLeap(y) {
		bm, bd = time.March, 1
	}
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// ParseAgeOver returns NN for an identifier age_over_NN: exactly two ASCII
// digits (§7.2.5), so "age_over_7", "age_over_020" and "age_over_+2" are
// not age attestations. It runs on every disclosed element of every
// presentation, hence no regular expression.
func ParseAgeOver(id string) (int, bool) {
	nn, ok := strings.CutPrefix(id, "age_over_")
	if !ok || len(nn) != 2 || !isDigit(nn[0]) || !isDigit(nn[1]) {
		return 0, false
	}
	return int(nn[0]-'0')*10 + int(nn[1]-'0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// AgeOverID returns the identifier age_over_NN.
func AgeOverID(nn int) string { return fmt.Sprintf("age_over_%02d", nn) }

// NearestAgeOver picks which issued age_over_MM answers a request for
// age_over_NN (ISO/IEC 18013-5:2021 §7.2.5): NN itself when issued;
// otherwise the smallest MM ≥ NN whose value is true; otherwise the largest
// MM ≤ NN whose value is false; otherwise none (ok false). issued maps MM
// to the issued value.
func NearestAgeOver(nn int, issued map[int]bool) (mm int, ok bool) {
	if _, has := issued[nn]; has {
		return nn, true
	}
	keys := make([]int, 0, len(issued))
	for k := range issued {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		if k >= nn && issued[k] {
			return k, true
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] <= nn && !issued[keys[i]] {
			return keys[i], true
		}
	}
	return 0, false
}

// AgeOverAnswer interprets a returned age_over_MM for a question "over
// NN?": true MM ≥ NN means yes; false MM ≤ NN means no; anything else
// does not answer the question (decided false).
func AgeOverAnswer(nn, mm int, value bool) (over, decided bool) {
	switch {
	case value && mm >= nn:
		return true, true
	case !value && mm <= nn:
		return false, true
	}
	return false, false
}
