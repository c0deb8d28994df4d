package walletsim

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// TestPlanDCQL checks claim_sets (first satisfiable in order of
// preference), values (matched on the held element value), credential_sets
// (first satisfiable option; required vs optional) and the release policy
// counting as "cannot deliver". The wallet holds an MNC (family_name 山田,
// sex 2, age_over_18/20 true, issuing_country JP) and an HIC.
func TestPlanDCQL(t *testing.T) {
	fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	iso := mdoc.NameSpaceISO23220
	mnc := func(id string, claims string, claimSets string) string {
		s := `{"id":"` + id + `","format":"mso_mdoc","meta":{"doctype_value":"` + mdoc.DocTypeMNC + `"},"claims":` + claims
		if claimSets != "" {
			s += `,"claim_sets":` + claimSets
		}
		return s + "}"
	}
	hic := `{"id":"hic","format":"mso_mdoc","meta":{"doctype_value":"` + mdoc.DocTypeHIC + `"},"claims":[{"path":["` + mdoc.NameSpaceHIC + `","insurer_number"]}]}`
	other := `{"id":"mdl","format":"mso_mdoc","meta":{"doctype_value":"org.iso.18013.5.1.mDL"},"claims":[{"path":["org.iso.18013.5.1","family_name"]}]}`
	claims := `[{"id":"a","path":["` + iso + `","family_name"]},{"id":"b","path":["` + iso + `","resident_address_unicode"]},{"id":"c","path":["` + iso + `","age_over_20"]},{"id":"d","path":["` + iso + `","issuing_country"],"values":["US"]},{"id":"e","path":["` + iso + `","sex"],"values":[1,2]}]`
	for _, tc := range []struct {
		name  string
		query string
		ok    bool
		want  map[string][]string // credential id → sorted elements offered
	}{
		{"all claims held", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","family_name"]},{"path":["`+iso+`","age_over_20"]}]`, "") + `]}`, true,
			map[string][]string{"m": {iso + "/age_over_20", iso + "/family_name"}}},
		{"one claim not held, no claim sets: credential not offered", `{"credentials":[` + mnc("m", claims, "") + `]}`, true, map[string][]string{}},
		{"first claim set not held, second taken", `{"credentials":[` + mnc("m", claims, `[["a","b"],["a","c"],["c"]]`) + `]}`, true,
			map[string][]string{"m": {iso + "/age_over_20", iso + "/family_name"}}},
		{"preference order kept", `{"credentials":[` + mnc("m", claims, `[["c"],["a","c"]]`) + `]}`, true,
			map[string][]string{"m": {iso + "/age_over_20"}}},
		{"values mismatch makes a set unsatisfiable", `{"credentials":[` + mnc("m", claims, `[["a","d"],["e"]]`) + `]}`, true,
			map[string][]string{"m": {iso + "/sex"}}},
		{"values match on a string", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","issuing_country"],"values":["JP"]}]`, "") + `]}`, true,
			map[string][]string{"m": {iso + "/issuing_country"}}},
		{"bool value mismatch", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","age_over_20"],"values":[false]}]`, "") + `]}`, true, map[string][]string{}},
		{"number value mismatch", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","sex"],"values":[1]}]`, "") + `]}`, true, map[string][]string{}},
		{"type must match: string 2 is not integer 2", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","sex"],"values":["2"]}]`, "") + `]}`, true, map[string][]string{}},
		{"no claim set satisfiable", `{"credentials":[` + mnc("m", claims, `[["b"],["d"]]`) + `]}`, true, map[string][]string{}},
		{"insurance to a non-medical reader is not deliverable", `{"credentials":[` + hic + `]}`, true, map[string][]string{}},
		{"credential set: first option unsatisfiable, second chosen", `{"credentials":[` + other + `,` + mnc("m", `[{"path":["`+iso+`","family_name"]}]`, "") + `],"credential_sets":[{"options":[["mdl"],["m"]]}]}`, true,
			map[string][]string{"m": {iso + "/family_name"}}},
		{"credential set: first satisfiable option wins", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","family_name"]}]`, "") + `,` + mnc("m2", `[{"path":["`+iso+`","age_over_18"]}]`, "") + `],"credential_sets":[{"options":[["m2"],["m"]]}]}`, true,
			map[string][]string{"m2": {iso + "/age_over_18"}}},
		{"required set unsatisfiable: nothing", `{"credentials":[` + other + `,` + mnc("m", `[{"path":["`+iso+`","family_name"]}]`, "") + `],"credential_sets":[{"options":[["m"]]},{"options":[["mdl"]]}]}`, false, map[string][]string{}},
		{"optional set unsatisfiable: skipped", `{"credentials":[` + other + `,` + mnc("m", `[{"path":["`+iso+`","family_name"]}]`, "") + `],"credential_sets":[{"options":[["m"]]},{"options":[["mdl"]],"required":false}]}`, true,
			map[string][]string{"m": {iso + "/family_name"}}},
		{"queries in no chosen option are not answered", `{"credentials":[` + mnc("m", `[{"path":["`+iso+`","family_name"]}]`, "") + `,` + mnc("m2", `[{"path":["`+iso+`","age_over_18"]}]`, "") + `],"credential_sets":[{"options":[["m"]]}]}`, true,
			map[string][]string{"m": {iso + "/family_name"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q oid4vp.DCQLQuery
			if err := json.Unmarshal([]byte(tc.query), &q); err != nil {
				t.Fatal(err)
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("test query invalid: %v", err)
			}
			sel, _, ok := w.planDCQL(&q, &ReaderInfo{})
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			got := map[string][]string{}
			for _, s := range sel {
				got[s.query.ID] = flatten(itemsOf(s.items))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("offered %v, want %v", got, tc.want)
			}
		})
	}
}

func itemsOf(ir mdoc.ItemsRequest) map[string][]string {
	out := map[string][]string{}
	for ns, ids := range ir.NameSpaces {
		for id := range ids {
			out[ns] = append(out[ns], id)
		}
	}
	return out
}
