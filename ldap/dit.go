package ldap

import (
	"sort"
	"sync"
)

// dit is the in-memory directory information tree the view serves: entries by
// normalised DN, children in DN order, and equality indexes. Entries are immutable;
// a change swaps pointers under the write lock, so searches hold the read lock only
// while they collect matches.
type dit struct {
	mu       sync.RWMutex
	entries  map[string]*entry
	children map[string][]*entry // parent ndn → children sorted by ndn
	indexed  map[*attrType]bool
	index    map[*attrType]map[string][]*entry
}

// indexedAttributes are the attributes with an equality index.
var indexedAttributes = []string{"uid", "cn", "member", "uniqueMember", "memberOf", "entryUUID", "mail", "employeeNumber", "entryDN"}

func newDIT() *dit {
	d := &dit{
		entries:  map[string]*entry{},
		children: map[string][]*entry{},
		indexed:  map[*attrType]bool{},
		index:    map[*attrType]map[string][]*entry{},
	}
	for _, n := range indexedAttributes {
		t := schemaIndex[lower(n)]
		d.indexed[t] = true
		d.index[t] = map[string][]*entry{}
	}
	return d
}

// put adds or replaces an entry. The caller holds the write lock.
func (d *dit) put(e *entry) {
	if old := d.entries[e.ndn]; old != nil {
		d.unindex(old)
		d.replaceChild(old, e)
	} else {
		d.insertChild(e)
	}
	d.entries[e.ndn] = e
	d.addIndex(e)
}

// remove deletes an entry by normalised DN. The caller holds the write lock.
func (d *dit) remove(ndn string) {
	old := d.entries[ndn]
	if old == nil {
		return
	}
	d.unindex(old)
	delete(d.entries, ndn)
	list := d.children[old.parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].ndn >= ndn })
	if i < len(list) && list[i].ndn == ndn {
		d.children[old.parent] = append(list[:i:i], list[i+1:]...)
	}
}

func (d *dit) insertChild(e *entry) {
	list := d.children[e.parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].ndn >= e.ndn })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = e
	d.children[e.parent] = list
}

func (d *dit) replaceChild(old, e *entry) {
	list := d.children[old.parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].ndn >= old.ndn })
	if i < len(list) && list[i] == old {
		// Copy on write: a search may be iterating the old slice.
		nl := make([]*entry, len(list))
		copy(nl, list)
		nl[i] = e
		d.children[old.parent] = nl
		return
	}
	d.insertChild(e)
}

func (d *dit) addIndex(e *entry) {
	for t := range d.indexed {
		a := e.get(t)
		if a == nil {
			continue
		}
		idx := d.index[t]
		for _, v := range a.norm {
			idx[v] = append(idx[v], e)
		}
	}
}

func (d *dit) unindex(e *entry) {
	for t := range d.indexed {
		a := e.get(t)
		if a == nil {
			continue
		}
		idx := d.index[t]
		for _, v := range a.norm {
			list := idx[v]
			for i, x := range list {
				if x == e {
					nl := make([]*entry, 0, len(list)-1)
					nl = append(nl, list[:i]...)
					nl = append(nl, list[i+1:]...)
					if len(nl) == 0 {
						delete(idx, v)
					} else {
						idx[v] = nl
					}
					break
				}
			}
		}
	}
}

// get returns the entry with the normalised DN.
func (d *dit) get(ndn string) *entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.entries[ndn]
}

// collect appends, in DN order, the entries in scope of base that match f, up to
// limit (0: no limit). It reports whether more matched. The base must exist.
func (d *dit) collect(base *entry, scope int64, f *filter, limit int) (out []*entry, more bool) {
	add := func(e *entry) bool {
		if scope == scopeChildren && e == base {
			return true // subordinate subtree: below the base only
		}
		if f.eval(e) != triTrue {
			return true
		}
		if limit > 0 && len(out) >= limit {
			more = true
			return false
		}
		out = append(out, e)
		return true
	}
	if t, v, ok := f.indexable(d.indexed); ok && scope != scopeBase {
		cands := d.index[t][v]
		if len(cands) > 1 {
			cands = append([]*entry(nil), cands...)
			sort.Slice(cands, func(i, j int) bool { return cands[i].ndn < cands[j].ndn })
		}
		for _, e := range cands {
			in := false
			switch scope {
			case scopeOne:
				in = e.parent == base.ndn
			default:
				in = isUnder(e.ndn, base.ndn)
			}
			if scope == scopeChildren && e == base {
				in = false
			}
			if in && !add(e) {
				break
			}
		}
		return out, more
	}
	switch scope {
	case scopeBase:
		add(base)
	case scopeOne:
		for _, e := range d.children[base.ndn] {
			if !add(e) {
				break
			}
		}
	default:
		d.walk(base, add)
	}
	return out, more
}

func (d *dit) walk(e *entry, fn func(*entry) bool) bool {
	if !fn(e) {
		return false
	}
	for _, c := range d.children[e.ndn] {
		if !d.walk(c, fn) {
			return false
		}
	}
	return true
}
