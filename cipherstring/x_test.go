package cipherstring
import ("testing";"fmt")
func TestX(t *testing.T){
 for _, s := range []string{"ALL","DEFAULT","HIGH:!aNULL","ECDH+RSA","DHE-RSA-AES256-SHA","HIHG:!aNULL","high","%%","AES+","", "SUITEB128:AES", "@SECLEVEL=2:AES128"} {
  r, err := Parse(s)
  fmt.Printf("%q err=%v\n", s, err)
  for _, x := range r.Suites { fmt.Print(x.Name, " ") }
  fmt.Println(); fmt.Println(r.Warnings)
 }
}
