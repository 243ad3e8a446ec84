package api

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
)

// TestEveryBodyFieldHasALimit: every string field of every request body
// and command payload (the types decodedTypes lists) has its own line in
// inputlimit's table, so no string reaches the log with only the default.
func TestEveryBodyFieldHasALimit(t *testing.T) {
	missing := map[string]string{} // field -> a path where it occurs
	var walk func(typ reflect.Type, path string, depth int)
	walk = func(typ reflect.Type, path string, depth int) {
		if depth > 10 {
			return
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(typ.Elem(), path+"[]", depth+1)
		case reflect.Map:
			walk(typ.Elem(), path+"{}", depth+1) // keys: MaxKeyLen
		case reflect.Struct:
			if typ.PkgPath() == "time" {
				return
			}
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if !f.IsExported() {
					continue
				}
				name := strings.Split(f.Tag.Get("json"), ",")[0]
				if name == "-" {
					continue
				}
				if f.Anonymous && name == "" {
					walk(f.Type, path, depth+1)
					continue
				}
				if name == "" {
					name = f.Name
				}
				if f.Type.Kind() == reflect.String || (f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String) {
					if _, ok := inputlimit.Fields[strings.ToLower(name)]; !ok {
						missing[name] = path + "." + name
					}
					continue
				}
				walk(f.Type, path+"."+name, depth+1)
			}
		}
	}
	for _, typ := range decodedTypes() {
		walk(typ, typ.String(), 0)
	}
	if len(missing) > 0 {
		var lines []string
		for k, v := range missing {
			lines = append(lines, k+" ("+v+")")
		}
		sort.Strings(lines)
		t.Fatalf("string fields without a line in inputlimit.Fields:\n%s", strings.Join(lines, "\n"))
	}
}
