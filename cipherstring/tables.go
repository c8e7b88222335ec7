package cipherstring

import "crypto/tls"

// Algorithm bits, one set per category, modelled on OpenSSL 3.0's
// ssl/ssl_local.h. Only their distinctness matters here.
const (
	kRSA uint32 = 1 << iota
	kDHE
	kECDHE
	kPSK
	kGOST
	kSRP
	kRSAPSK
	kECDHEPSK
	kDHEPSK
	kGOST18
)

const kAnyPSK = kPSK | kRSAPSK | kECDHEPSK | kDHEPSK

const (
	aRSA uint32 = 1 << iota
	aDSS
	aNULL
	aECDSA
	aPSK
	aGOST01
	aSRP
	aGOST12
)

const (
	eDES uint32 = 1 << iota
	e3DES
	eRC4
	eRC2
	eIDEA
	eNULL
	eAES128
	eAES256
	eCAMELLIA128
	eCAMELLIA256
	eGOST89
	eSEED
	eAES128GCM
	eAES256GCM
	eAES128CCM
	eAES256CCM
	eAES128CCM8
	eAES256CCM8
	eGOST8912
	eCHACHA20
	eARIA128GCM
	eARIA256GCM
	eMAGMA
	eKUZNYECHIK
)

const (
	eAESGCM   = eAES128GCM | eAES256GCM
	eAESCCM   = eAES128CCM | eAES256CCM | eAES128CCM8 | eAES256CCM8
	eAES      = eAES128 | eAES256 | eAESGCM | eAESCCM
	eCAMELLIA = eCAMELLIA128 | eCAMELLIA256
	eARIA     = eARIA128GCM | eARIA256GCM
	eCBC      = eDES | e3DES | eRC2 | eIDEA | eAES128 | eAES256 | eCAMELLIA | eSEED
)

const (
	mMD5 uint32 = 1 << iota
	mSHA1
	mGOST94
	mGOST89MAC
	mSHA256
	mSHA384
	mAEAD
	mGOST12
	mGOST89MAC12
)

// Strength flags (OpenSSL's algo_strength).
const (
	sNone uint32 = 1 << iota
	sLow
	sMedium
	sHigh
	sFIPS
	sNotDefault

	strongMask  = sNone | sLow | sMedium | sHigh | sFIPS
	defaultMask = sNotDefault
)

// Protocol versions as OpenSSL's min_tls field spells them.
const (
	ssl3Version  uint16 = 0x0300
	tls1Version  uint16 = 0x0301
	tls12Version uint16 = 0x0303
)

// goSuite describes one TLS ≤1.2 suite crypto/tls implements, with the
// attributes OpenSSL 3.0's ssl/s3_lib.c gives it.
type goSuite struct {
	id                    uint16
	name                  string
	mkey, auth, enc, mac  uint32
	kx, au, encName, macN string
	minTLS                uint16 // OpenSSL's min_tls
	strength              uint32
	bits, algBits         int
	goMin, goMax          uint16 // versions crypto/tls negotiates it at
}

// goSuites holds the 22 suites in the order OpenSSL's "ALL" produces.
// 3DES and RC4 entries are those OpenSSL builds with enable-weak-ssl-ciphers:
// MEDIUM, not in DEFAULT, 3DES FIPS with 112 strength bits.
var goSuites = []goSuite{
	ecdhe(0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", aECDSA, eAES256GCM, mAEAD, tls12Version, sHigh|sFIPS, 256),
	ecdhe(0xC030, "ECDHE-RSA-AES256-GCM-SHA384", aRSA, eAES256GCM, mAEAD, tls12Version, sHigh|sFIPS, 256),
	ecdhe(0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", aECDSA, eCHACHA20, mAEAD, tls12Version, sHigh, 256),
	ecdhe(0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", aRSA, eCHACHA20, mAEAD, tls12Version, sHigh, 256),
	ecdhe(0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", aECDSA, eAES128GCM, mAEAD, tls12Version, sHigh|sFIPS, 128),
	ecdhe(0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", aRSA, eAES128GCM, mAEAD, tls12Version, sHigh|sFIPS, 128),
	ecdhe(0xC023, "ECDHE-ECDSA-AES128-SHA256", aECDSA, eAES128, mSHA256, tls12Version, sHigh|sFIPS, 128),
	ecdhe(0xC027, "ECDHE-RSA-AES128-SHA256", aRSA, eAES128, mSHA256, tls12Version, sHigh|sFIPS, 128),
	ecdhe(0xC00A, "ECDHE-ECDSA-AES256-SHA", aECDSA, eAES256, mSHA1, tls1Version, sHigh|sFIPS, 256),
	ecdhe(0xC014, "ECDHE-RSA-AES256-SHA", aRSA, eAES256, mSHA1, tls1Version, sHigh|sFIPS, 256),
	ecdhe(0xC009, "ECDHE-ECDSA-AES128-SHA", aECDSA, eAES128, mSHA1, tls1Version, sHigh|sFIPS, 128),
	ecdhe(0xC013, "ECDHE-RSA-AES128-SHA", aRSA, eAES128, mSHA1, tls1Version, sHigh|sFIPS, 128),
	ecdhe(0xC007, "ECDHE-ECDSA-RC4-SHA", aECDSA, eRC4, mSHA1, tls1Version, sNotDefault|sMedium, 128),
	ecdhe(0xC011, "ECDHE-RSA-RC4-SHA", aRSA, eRC4, mSHA1, tls1Version, sNotDefault|sMedium, 128),
	ecdhe(0xC012, "ECDHE-RSA-DES-CBC3-SHA", aRSA, e3DES, mSHA1, tls1Version, sNotDefault|sMedium|sFIPS, 112),
	rsa(0x009D, "AES256-GCM-SHA384", eAES256GCM, mAEAD, tls12Version, sHigh|sFIPS, 256),
	rsa(0x009C, "AES128-GCM-SHA256", eAES128GCM, mAEAD, tls12Version, sHigh|sFIPS, 128),
	rsa(0x003C, "AES128-SHA256", eAES128, mSHA256, tls12Version, sHigh|sFIPS, 128),
	rsa(0x0035, "AES256-SHA", eAES256, mSHA1, ssl3Version, sHigh|sFIPS, 256),
	rsa(0x002F, "AES128-SHA", eAES128, mSHA1, ssl3Version, sHigh|sFIPS, 128),
	rsa(0x0005, "RC4-SHA", eRC4, mSHA1, ssl3Version, sNotDefault|sMedium, 128),
	rsa(0x000A, "DES-CBC3-SHA", e3DES, mSHA1, ssl3Version, sNotDefault|sMedium|sFIPS, 112),
}

func ecdhe(id uint16, name string, auth, enc, mac uint32, minTLS uint16, strength uint32, bits int) goSuite {
	return newGoSuite(id, name, kECDHE, auth, enc, mac, minTLS, strength, bits)
}

func rsa(id uint16, name string, enc, mac uint32, minTLS uint16, strength uint32, bits int) goSuite {
	return newGoSuite(id, name, kRSA, aRSA, enc, mac, minTLS, strength, bits)
}

func newGoSuite(id uint16, name string, mkey, auth, enc, mac uint32, minTLS uint16, strength uint32, bits int) goSuite {
	s := goSuite{
		id: id, name: name, mkey: mkey, auth: auth, enc: enc, mac: mac,
		minTLS: minTLS, strength: strength, bits: bits, algBits: bits,
		kx: map[uint32]string{kRSA: "kRSA", kECDHE: "kECDHE"}[mkey],
		au: map[uint32]string{aRSA: "aRSA", aECDSA: "aECDSA"}[auth],
		encName: map[uint32]string{
			eAES128: "AES128", eAES256: "AES256", eAES128GCM: "AESGCM", eAES256GCM: "AESGCM",
			eCHACHA20: "CHACHA20", e3DES: "3DES", eRC4: "RC4",
		}[enc],
		macN:  map[uint32]string{mSHA1: "SHA1", mSHA256: "SHA256", mSHA384: "SHA384", mAEAD: "AEAD"}[mac],
		goMin: tls.VersionTLS12, goMax: tls.VersionTLS12,
	}
	if enc == e3DES {
		s.algBits = 168
	}
	// crypto/tls offers the SHA-1 CBC and RC4 suites from TLS 1.0 on; the
	// AEAD and SHA-256 suites need TLS 1.2.
	if mac == mSHA1 {
		s.goMin = tls.VersionTLS10
	}
	return s
}

// alias is one OpenSSL 3.0 cipher-string keyword (ssl/ssl_ciph.c's
// cipher_aliases): the masks it contributes to a selection.
type alias struct {
	mkey, auth, enc, mac uint32
	minTLS               uint16
	strength             uint32
	why                  string // why it selects nothing Go has, if it does not
}

var aliases = map[string]alias{
	"ALL":                 {enc: ^eNULL},
	"COMPLEMENTOFALL":     {enc: eNULL, why: "it means the NULL-encryption suites"},
	"COMPLEMENTOFDEFAULT": {strength: sNotDefault},

	"kRSA":      {mkey: kRSA},
	"kEDH":      {mkey: kDHE, why: "Go has no DHE"},
	"kDHE":      {mkey: kDHE, why: "Go has no DHE"},
	"DH":        {mkey: kDHE, why: "Go has no DHE"},
	"kEECDH":    {mkey: kECDHE},
	"kECDHE":    {mkey: kECDHE},
	"ECDH":      {mkey: kECDHE},
	"kPSK":      {mkey: kPSK, why: "Go has no PSK"},
	"kRSAPSK":   {mkey: kRSAPSK, why: "Go has no PSK"},
	"kECDHEPSK": {mkey: kECDHEPSK, why: "Go has no PSK"},
	"kDHEPSK":   {mkey: kDHEPSK, why: "Go has no PSK"},
	"kSRP":      {mkey: kSRP, why: "Go has no SRP"},
	"kGOST":     {mkey: kGOST, why: "Go has no GOST"},
	"kGOST18":   {mkey: kGOST18, why: "Go has no GOST"},

	"aRSA":    {auth: aRSA},
	"aDSS":    {auth: aDSS, why: "Go has no DSS"},
	"DSS":     {auth: aDSS, why: "Go has no DSS"},
	"aNULL":   {auth: aNULL, why: "Go has no anonymous suites"},
	"aECDSA":  {auth: aECDSA},
	"ECDSA":   {auth: aECDSA},
	"aPSK":    {auth: aPSK, why: "Go has no PSK"},
	"aGOST01": {auth: aGOST01, why: "Go has no GOST"},
	"aGOST12": {auth: aGOST12, why: "Go has no GOST"},
	"aGOST":   {auth: aGOST01 | aGOST12, why: "Go has no GOST"},
	"aSRP":    {auth: aSRP, why: "Go has no SRP"},

	"EDH":   {mkey: kDHE, auth: ^aNULL, why: "Go has no DHE"},
	"DHE":   {mkey: kDHE, auth: ^aNULL, why: "Go has no DHE"},
	"EECDH": {mkey: kECDHE, auth: ^aNULL},
	"ECDHE": {mkey: kECDHE, auth: ^aNULL},
	"NULL":  {enc: eNULL, why: "Go has no NULL encryption"},
	"RSA":   {mkey: kRSA, auth: aRSA},
	"ADH":   {mkey: kDHE, auth: aNULL, why: "Go has no anonymous DH"},
	"AECDH": {mkey: kECDHE, auth: aNULL, why: "Go has no anonymous ECDH"},
	"PSK":   {mkey: kAnyPSK, why: "Go has no PSK"},
	"SRP":   {mkey: kSRP, why: "Go has no SRP"},

	"3DES":        {enc: e3DES},
	"RC4":         {enc: eRC4},
	"RC2":         {enc: eRC2, why: "Go has no RC2"},
	"IDEA":        {enc: eIDEA, why: "Go has no IDEA"},
	"SEED":        {enc: eSEED, why: "Go has no SEED"},
	"eNULL":       {enc: eNULL, why: "Go has no NULL encryption"},
	"GOST":        {enc: eGOST89 | eGOST8912 | eMAGMA | eKUZNYECHIK, why: "Go has no GOST"},
	"AES128":      {enc: eAES128 | eAES128GCM | eAES128CCM | eAES128CCM8},
	"AES256":      {enc: eAES256 | eAES256GCM | eAES256CCM | eAES256CCM8},
	"AES":         {enc: eAES},
	"AESGCM":      {enc: eAESGCM},
	"AESCCM":      {enc: eAESCCM, why: "Go has no AES-CCM"},
	"AESCCM8":     {enc: eAES128CCM8 | eAES256CCM8, why: "Go has no AES-CCM"},
	"CAMELLIA128": {enc: eCAMELLIA128, why: "Go has no CAMELLIA"},
	"CAMELLIA256": {enc: eCAMELLIA256, why: "Go has no CAMELLIA"},
	"CAMELLIA":    {enc: eCAMELLIA, why: "Go has no CAMELLIA"},
	"CHACHA20":    {enc: eCHACHA20},
	"ARIA":        {enc: eARIA, why: "Go has no ARIA"},
	"ARIAGCM":     {enc: eARIA, why: "Go has no ARIA"},
	"ARIA128":     {enc: eARIA128GCM, why: "Go has no ARIA"},
	"ARIA256":     {enc: eARIA256GCM, why: "Go has no ARIA"},
	"CBC":         {enc: eCBC},

	"MD5":       {mac: mMD5, why: "Go has no MD5-MAC suites"},
	"SHA1":      {mac: mSHA1},
	"SHA":       {mac: mSHA1},
	"GOST94":    {mac: mGOST94, why: "Go has no GOST"},
	"GOST89MAC": {mac: mGOST89MAC | mGOST89MAC12, why: "Go has no GOST"},
	"SHA256":    {mac: mSHA256},
	"SHA384":    {mac: mSHA384},
	"GOST12":    {mac: mGOST12, why: "Go has no GOST"},

	"SSLv3":   {minTLS: ssl3Version},
	"TLSv1":   {minTLS: tls1Version},
	"TLSv1.0": {minTLS: tls1Version},
	"TLSv1.2": {minTLS: tls12Version},

	"LOW":    {strength: sLow, why: "Go has no LOW-strength suites"},
	"MEDIUM": {strength: sMedium},
	"HIGH":   {strength: sHigh},
	"FIPS":   {enc: ^eNULL, strength: sFIPS},
}

// legacyWords are keywords of older OpenSSL releases that OpenSSL 3.0 no
// longer defines and silently skips; they select nothing.
var legacyWords = map[string]bool{
	"DES": true, "EXP": true, "EXPORT": true, "EXPORT40": true, "EXPORT56": true,
	"SSLv2": true, "TLSv1.1": true, "kDH": true, "kDHr": true, "kDHd": true,
	"aDH": true, "kECDH": true, "kECDHr": true, "kECDHe": true, "aECDH": true,
	"KRB5": true, "kKRB5": true, "aKRB5": true, "FZA": true, "kFZA": true,
	"aFZA": true, "eFZA": true, "ECCdraft": true,
}

// defaultRules is OpenSSL 3.0's OSSL_default_cipher_list(), which a string
// starting with "DEFAULT" is evaluated against first.
const defaultRules = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"

// TLS13Suites are the TLS 1.3 suites crypto/tls always offers, in OpenSSL's
// default TLS 1.3 order. Cipher strings do not configure them.
var TLS13Suites = []string{"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}
