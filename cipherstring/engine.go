package cipherstring

import (
	"cmp"
	"slices"
)

// entry is one suite in OpenSSL's working list (ssl_ciph.c's CIPHER_ORDER).
type entry struct {
	suite  int // index into goSuites
	active bool
}

// op is what a rule does to the suites it matches.
type op int

const (
	opAdd  op = iota // plain word: append inactive matches at the end
	opDel            // '-': move active matches to the front, inactive
	opOrd            // '+': move active matches to the end
	opKill           // '!': remove matches for good
	opBump           // internal: move active matches to the front
)

// rule is the selection pattern of one command, as OpenSSL builds it.
type rule struct {
	hasID                bool
	id                   uint16
	mkey, auth, enc, mac uint32
	minTLS               uint16
	strength             uint32
}

// matches mirrors the test in ssl_cipher_apply_rule.
func (r rule) matches(g *goSuite) bool {
	switch {
	case r.hasID && g.id != r.id:
		return false
	case r.mkey != 0 && r.mkey&g.mkey == 0:
		return false
	case r.auth != 0 && r.auth&g.auth == 0:
		return false
	case r.enc != 0 && r.enc&g.enc == 0:
		return false
	case r.mac != 0 && r.mac&g.mac == 0:
		return false
	case r.minTLS != 0 && r.minTLS != g.minTLS:
		return false
	case r.strength&strongMask != 0 && r.strength&strongMask&g.strength == 0:
		return false
	case r.strength&defaultMask != 0 && r.strength&defaultMask&g.strength == 0:
		return false
	}
	return true
}

// matchesAny reports whether r selects at least one suite Go implements.
func (r rule) matchesAny() bool {
	return slices.ContainsFunc(goSuites, func(g goSuite) bool { return r.matches(&g) })
}

// apply performs op on the entries whose suite r matches. OpenSSL walks its
// linked list front to back for add, ord and kill and back to front for del
// and bump, moving each match to the end or the front; the net effect is
// the stable partition computed here.
func apply(list []entry, o op, r rule) []entry {
	var keep, moved []entry
	for _, e := range list {
		hit := r.matches(&goSuites[e.suite])
		switch {
		case o == opKill && hit:
			continue
		case o == opAdd && hit && !e.active:
			e.active = true
			moved = append(moved, e)
		case (o == opOrd || o == opDel || o == opBump) && hit && e.active:
			e.active = o != opDel
			moved = append(moved, e)
		default:
			keep = append(keep, e)
		}
	}
	if o == opDel || o == opBump {
		return append(moved, keep...)
	}
	return append(keep, moved...)
}

// strengthSort is ssl_cipher_strength_sort: for each strength from the
// highest down it moves the active suites of that strength to the end, so
// inactive suites keep their places at the front and active ones end up
// stably sorted by descending strength bits.
func strengthSort(list []entry) []entry {
	var inactive, active []entry
	for _, e := range list {
		if e.active {
			active = append(active, e)
		} else {
			inactive = append(inactive, e)
		}
	}
	slices.SortStableFunc(active, func(a, b entry) int {
		return cmp.Compare(goSuites[b.suite].bits, goSuites[a.suite].bits)
	})
	return append(inactive, active...)
}

// initialList is the list ssl_create_cipher_list starts from: OpenSSL sorts
// its cipher table by ID and collects it from the end, so by descending ID.
func initialList() []entry {
	list := make([]entry, len(goSuites))
	for i := range goSuites {
		list[i] = entry{suite: i}
	}
	slices.SortFunc(list, func(a, b entry) int {
		return cmp.Compare(goSuites[b.suite].id, goSuites[a.suite].id)
	})
	return list
}

// defaultOrder applies the rules ssl_create_cipher_list runs before the
// cipher string: they fix the order in which later words add suites, and
// leave every suite inactive.
func defaultOrder(list []entry) []entry {
	all := rule{}
	steps := []struct {
		o op
		r rule
	}{
		// Prefer ECDHE, ECDSA before RSA.
		{opAdd, rule{mkey: kECDHE, auth: aECDSA}},
		{opAdd, rule{mkey: kECDHE}},
		{opDel, rule{mkey: kECDHE}},
		// Within a strength prefer GCM, then ChaCha20, then other AES.
		{opAdd, rule{enc: eAESGCM}},
		{opAdd, rule{enc: eCHACHA20}},
		{opAdd, rule{enc: eAES &^ eAESGCM}},
		{opAdd, all},
		// MD5, anonymous, RSA key exchange, PSK and RC4 go last.
		{opOrd, rule{mac: mMD5}},
		{opOrd, rule{auth: aNULL}},
		{opOrd, rule{mkey: kRSA}},
		{opOrd, rule{mkey: kPSK}},
		{opOrd, rule{enc: eRC4}},
	}
	for _, s := range steps {
		list = apply(list, s.o, s.r)
	}
	list = strengthSort(list)
	// (EC)DHE+AEAD > (EC)DHE > AEAD > rest, TLS 1.2 first within each.
	for _, r := range []rule{
		{minTLS: tls12Version},
		{mac: mAEAD},
		{mkey: kDHE | kECDHE},
		{mkey: kDHE | kECDHE, mac: mAEAD},
	} {
		list = apply(list, opBump, r)
	}
	return apply(list, opDel, all)
}

// selected returns the active suites in list order.
func selected(list []entry) []Suite {
	var out []Suite
	for _, e := range list {
		if e.active {
			out = append(out, goSuites[e.suite].public())
		}
	}
	return out
}
