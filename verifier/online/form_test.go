package online

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// parseForm must read every body exactly as url.ParseQuery does.
func TestParseFormMatchesParseQuery(t *testing.T) {
	jwe := "eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn"
	for _, body := range []string{
		"",
		"response=" + jwe,
		"response=" + jwe + "&state=abc",
		"response=" + jwe + "&response=other",
		"&&response=" + jwe + "&",
		"response",
		"=value",
		"a=b=c",
		"error=access_denied&error_description=the+holder+declined&state=s1",
		"error_description=%E6%8B%92%E5%90%A6&error=access_denied",
		"response=%zz",
		"a=1;b=2",
		"k%3D=v%26",
		strings.Repeat("a=1&", maxFastFormFields+3),
		strings.Repeat("a=1&", maxFastFormFields-1) + "b=2",
		// Over url.ParseQuery's own bound on the number of fields
		// (GODEBUG urlmaxqueryparams, 10,000 by default): an error.
		strings.Repeat("a=1&", 10001),
	} {
		got, gotErr := parseForm(body)
		want, wantErr := url.ParseQuery(body)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: parseForm = %v, %v; url.ParseQuery = %v, %v", body, got, gotErr, want, wantErr)
		}
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("response=eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn")
	f.Add("error=access_denied&error_description=a+b%20c&state=s")
	f.Add("a=1;b=2&&=&c")
	f.Fuzz(func(t *testing.T, body string) {
		got, gotErr := parseForm(body)
		want, wantErr := url.ParseQuery(body)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parseForm = %v, %v; url.ParseQuery = %v, %v", body, got, gotErr, want, wantErr)
		}
	})
}
