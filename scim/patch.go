package scim

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// resourceShape knows a resource type's attributes: which are multi-valued and
// which read-only, per schema, for PATCH application and projection.
type resourceShape struct {
	tr   translator
	defs map[string]map[string]attr // lower-case schema URN → lower-case name → definition
}

func newShape(tr translator, schemas map[string][]attr) resourceShape {
	defs := map[string]map[string]attr{}
	for urn, attrs := range schemas {
		m := map[string]attr{}
		for _, a := range attrs {
			m[strings.ToLower(a.Name)] = a
		}
		defs[strings.ToLower(urn)] = m
	}
	return resourceShape{tr: tr, defs: defs}
}

// def finds an attribute's definition; urn "" is the core schema.
func (r resourceShape) def(urn, name string) (attr, bool) {
	if urn == "" {
		urn = r.tr.core
	}
	a, ok := r.defs[strings.ToLower(urn)][strings.ToLower(name)]
	return a, ok
}

// isExtension tells whether a key is one of the resource's extension URNs.
func (r resourceShape) isExtension(k string) (string, bool) {
	for _, e := range r.tr.exts {
		if strings.EqualFold(k, e) {
			return e, true
		}
	}
	return "", false
}

// applyPatch applies PATCH operations to a resource document in order (RFC 7644
// §3.5.2) with the compatibility rules of iga.md group A. The document is a
// copy: the caller commits the result as one command, or nothing.
func (r resourceShape) applyPatch(doc map[string]any, ops []scim.PatchOperation) error {
	for i, op := range ops {
		if err := r.applyOp(doc, op); err != nil {
			if len(ops) > 1 {
				return prefixErr(fmt.Sprintf("operation %d: ", i+1), err)
			}
			return err
		}
	}
	return nil
}

func prefixErr(prefix string, err error) error {
	if se, ok := err.(interface{ Error() string }); ok {
		if x, isScim := asScim(err); isScim {
			x.Detail = prefix + x.Detail
			return x
		}
		return fmt.Errorf("%s%s", prefix, se.Error())
	}
	return err
}

func (r resourceShape) applyOp(doc map[string]any, op scim.PatchOperation) error {
	o := strings.ToLower(op.Op)
	if o != "add" && o != "replace" && o != "remove" {
		return errInvalidSyntax("unknown PATCH op %q: use add, replace or remove", op.Op)
	}
	if op.Path == nil {
		if o == "remove" {
			return errNoTarget("remove needs a path")
		}
		vals, ok := op.Value.(map[string]any)
		if !ok {
			return errInvalidValue("an %s without a path needs an object of attributes as its value", o)
		}
		for _, k := range sortedKeys(vals) {
			v := vals[k]
			if urn, isExt := r.isExtension(k); isExt {
				m, ok := v.(map[string]any)
				if !ok {
					return errInvalidValue("%s must be an object", k)
				}
				for _, sk := range sortedKeys(m) {
					p := filter.Path{AttributePath: filter.AttributePath{URIPrefix: &urn, AttributeName: sk}}
					if err := r.applyPath(doc, o, p, m[sk], true); err != nil {
						return err
					}
				}
				continue
			}
			p, err := filter.ParsePath([]byte(k))
			if err != nil {
				return errInvalidPath("%q is not an attribute path", k)
			}
			if err := r.applyPath(doc, o, p, v, true); err != nil {
				return err
			}
		}
		return nil
	}
	return r.applyPath(doc, o, *op.Path, op.Value, false)
}

// applyPath applies one operation at a path. pathless marks values that came
// inside a path-less operation: read-only attributes there are ignored (Okta
// sends the id), while a path naming one is refused.
func (r resourceShape) applyPath(doc map[string]any, op string, p filter.Path, value any, pathless bool) error {
	urn := p.AttributePath.URI()
	if urn != "" && strings.EqualFold(urn, r.tr.core) {
		urn = ""
	}
	name := p.AttributePath.AttributeName
	if urn == "" {
		// A path that is just an extension URN targets the whole extension.
		if ext, ok := r.isExtension(joinURN(p.AttributePath)); ok && p.ValueExpression == nil {
			m, isMap := value.(map[string]any)
			if op == "remove" {
				delete(doc, ext)
				return nil
			}
			if !isMap {
				return errInvalidValue("%s must be an object", ext)
			}
			for _, sk := range sortedKeys(m) {
				sp := filter.Path{AttributePath: filter.AttributePath{URIPrefix: &ext, AttributeName: sk}}
				if err := r.applyPath(doc, op, sp, m[sk], pathless); err != nil {
					return err
				}
			}
			return nil
		}
	}
	def, ok := r.def(urn, name)
	if !ok {
		if pathless {
			return nil // unknown attributes in a value are ignored, as on POST
		}
		return errInvalidPath("%q is not an attribute of this resource", p.String())
	}
	sub := p.AttributePath.SubAttributeName()
	if p.SubAttribute != nil {
		sub = *p.SubAttribute
	}
	if def.Mutability == "readOnly" || sub != "" && subReadOnly(def, sub) {
		if pathless {
			return nil
		}
		return errMutability("%s is read-only", p.String())
	}
	container := doc
	if urn != "" {
		ext, _ := r.isExtension(urn)
		m, _ := doc[ext].(map[string]any)
		if m == nil {
			if op == "remove" {
				return nil
			}
			m = map[string]any{}
			doc[ext] = m
		}
		container = m
	}
	key, cur, _ := lookup(container, name)
	if key == "" {
		key = def.Name
	}
	if value == nil && op != "remove" {
		// RFC 7643 §2.5: null is unassigned.
		op = "remove"
	}
	if def.MultiValued {
		list, _ := cur.([]any)
		out, err := r.applyMulti(list, op, p, sub, value, def)
		if err != nil {
			return err
		}
		if len(out) == 0 {
			delete(container, key)
		} else {
			container[key] = out
		}
		return nil
	}
	if p.ValueExpression != nil {
		return errInvalidPath("%s is single-valued: a [filter] does not apply", def.Name)
	}
	if sub != "" {
		m, _ := cur.(map[string]any)
		if m == nil {
			if op == "remove" {
				return nil
			}
			m = map[string]any{}
		}
		setSub(m, sub, op, value)
		if len(m) == 0 {
			delete(container, key)
		} else {
			container[key] = m
		}
		return nil
	}
	switch op {
	case "remove":
		delete(container, key)
	case "add", "replace":
		if nm, ok := value.(map[string]any); ok && def.Type == "complex" {
			m, _ := cur.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			for k, v := range nm {
				setSub(m, k, "replace", v)
			}
			container[key] = m
			return nil
		}
		if list, ok := value.([]any); ok && len(list) == 1 {
			value = list[0]
		}
		container[key] = value
	}
	return nil
}

func joinURN(p filter.AttributePath) string {
	s := p.AttributeName
	if u := p.URI(); u != "" {
		s = u + ":" + s
	}
	if sub := p.SubAttributeName(); sub != "" {
		s += "." + sub
	}
	return s
}

func subReadOnly(def attr, sub string) bool {
	for _, s := range def.SubAttributes {
		if strings.EqualFold(s.Name, sub) {
			return s.Mutability == "readOnly"
		}
	}
	return false
}

func setSub(m map[string]any, sub, op string, value any) {
	k, _, ok := lookup(m, sub)
	if !ok {
		k = sub
	}
	if op == "remove" || value == nil {
		delete(m, k)
		return
	}
	m[k] = value
}

// applyMulti applies an operation to a multi-valued attribute.
func (r resourceShape) applyMulti(list []any, op string, p filter.Path, sub string, value any, def attr) ([]any, error) {
	elems := elementAttrs(attrMap{}, "")
	_ = elems
	match := func(el any) bool {
		if p.ValueExpression == nil {
			return true
		}
		m, ok := el.(map[string]any)
		if !ok {
			return false
		}
		t := translator{attrs: elementAttrs(r.tr.attrs, def.Name)}
		return t.matches(p.ValueExpression, m)
	}
	values := asList(value)
	switch {
	case p.ValueExpression == nil && sub == "":
		switch op {
		case "add":
			for _, v := range values {
				if i := indexOf(list, v); i >= 0 {
					list[i] = mergeElem(list[i], v)
				} else {
					list = append(list, v)
				}
			}
			return list, nil
		case "replace":
			return append([]any(nil), values...), nil
		default: // remove
			if value == nil {
				return nil, nil
			}
			// Entra sends path "members" with the members to remove as value
			// (iga.md BUG-03): remove those, not everything.
			var out []any
			for _, el := range list {
				if indexOf(values, el) < 0 {
					out = append(out, el)
				}
			}
			return out, nil
		}
	case sub == "":
		// a filtered element: members[value eq "u"], emails[type eq "work"]
		var out []any
		found := false
		for _, el := range list {
			if !match(el) {
				out = append(out, el)
				continue
			}
			found = true
			switch op {
			case "remove":
			default:
				if len(values) == 1 {
					out = append(out, mergeElem(el, values[0]))
				} else {
					out = append(out, el)
				}
			}
		}
		if !found && op != "remove" && len(values) == 1 {
			out = append(out, mergeElem(filterSeed(p.ValueExpression), values[0]))
		}
		return out, nil
	default:
		// a sub-attribute of filtered elements: emails[type eq "work"].value
		found := false
		for i, el := range list {
			if !match(el) {
				continue
			}
			found = true
			m, _ := el.(map[string]any)
			if m == nil {
				continue
			}
			setSub(m, sub, op, value)
			list[i] = m
		}
		if !found && op != "remove" {
			if p.ValueExpression == nil {
				return nil, errNoTarget("%s has no values to set %s on", def.Name, sub)
			}
			// Entra expects add and replace to create the element
			// (iga.md BUG-09); RFC 7644 §3.5.2.3 would answer noTarget.
			seed := filterSeed(p.ValueExpression)
			setSub(seed, sub, "replace", value)
			list = append(list, seed)
		}
		return list, nil
	}
}

// filterSeed builds the element a value filter describes, from its eq terms.
func filterSeed(e filter.Expression) map[string]any {
	m := map[string]any{}
	var walk func(filter.Expression)
	walk = func(e filter.Expression) {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if x.Operator == filter.AND {
				walk(x.Left)
				walk(x.Right)
			}
		case *filter.AttributeExpression:
			if x.Operator == filter.EQ {
				if v, err := compareString(x.CompareValue); err == nil {
					if b, ok := x.CompareValue.(bool); ok {
						m[x.AttributePath.AttributeName] = b
					} else {
						m[x.AttributePath.AttributeName] = v
					}
				}
			}
		}
	}
	walk(e)
	return m
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// indexOf finds an element equal to v: by the value sub-attribute when both
// have one (RFC 7643 §2.4), else by deep equality.
func indexOf(list []any, v any) int {
	vm, vIsMap := v.(map[string]any)
	vv := ""
	if vIsMap {
		vv = getStr(vm, "value")
	}
	for i, el := range list {
		if em, ok := el.(map[string]any); ok && vIsMap && vv != "" {
			if getStr(em, "value") == vv {
				return i
			}
			continue
		}
		if reflect.DeepEqual(el, v) {
			return i
		}
	}
	return -1
}

func mergeElem(el, v any) any {
	em, ok1 := el.(map[string]any)
	vm, ok2 := v.(map[string]any)
	if !ok1 || !ok2 {
		return v
	}
	out := make(map[string]any, len(em)+len(vm))
	for k, x := range em {
		out[k] = x
	}
	for k, x := range vm {
		if x == nil {
			continue // "$ref": null is unassigned, not a change
		}
		kk, _, ok := lookup(out, k)
		if !ok {
			kk = k
		}
		out[kk] = x
	}
	return out
}
