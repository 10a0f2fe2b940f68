package report

import (
	"bytes"
	"math"
	"testing"
)

// The expected strings are what Python 3.11 prints: json.dumps(v,
// sort_keys=True, indent=4, ensure_ascii=False), repr(f) and str(v).
func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1.5: "1.5", 100: "100.0", 0.0001: "0.0001", 0.00001: "1e-05", 1e16: "1e+16",
		1e15: "1000000000000000.0", 1.5e-3: "0.0015", 1e20: "1e+20", -2.5e-7: "-2.5e-07",
		1.7976931348623157e308: "1.7976931348623157e+308", 0: "0.0",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestPyJSON(t *testing.T) {
	v := map[string]any{
		"b": []any{1, "x\"\\\n\t\x01é", nil, true, 2.0, math.Inf(1)},
		"a": map[string]any{}, "c": []any{}, "d": map[string]any{"z": 1, "y": false},
	}
	want := `{
    "a": {},
    "b": [
        1,
        "x\"\\\n\t\u0001é",
        null,
        true,
        2.0,
        Infinity
    ],
    "c": [],
    "d": {
        "y": false,
        "z": 1
    }
}`
	var b bytes.Buffer
	pyJSON(&b, v, 0)
	if b.String() != want {
		t.Errorf("pyJSON =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPyStr(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"plain", "plain"}, {nil, "None"}, {true, "True"}, {3, "3"}, {2.0, "2.0"},
		{[]any{"it's", `say "hi"`, `both ' "`, 1.5, nil}, `["it's", 'say "hi"', 'both \' "', 1.5, None]`},
		{map[string]any{"b": 2, "a": []any{}}, `{'a': [], 'b': 2}`},
		{[]any{"tab\there"}, `['tab\there']`},
	} {
		if got := pyStr(tc.v); got != tc.want {
			t.Errorf("pyStr(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
