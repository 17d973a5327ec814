//! The descriptor families of real user hives (windows-profile-state.md §4.3, and the
//! Windows 10 `transactions_NTUSER.DAT` and `UsrClass.dat` fixtures), as SDDL templates.
//! `<USER>` is the profile owner, `<U513>` the primary group, `<M503>` the machine's
//! DefaultAccount, `<RR>` the `registryRead` capability, `<TI>` TrustedInstaller.

/// NTUSER root (Win10: with `AC` and `registryRead` non-inheritable reads).
pub const NT_ROOT: &str = "O:BAG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;;KR;;;AC)(A;;KR;;;<RR>)S:AI";
/// Protected top-level keys from the Default hive (`Control Panel`, `Environment`, `EUDC`).
pub const TOP_PROTECTED: &str = "O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)S:AI";
/// `AppEvents` and a few `Software\Microsoft` keys.
pub const TOP_PROTECTED_AC: &str = "O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)S:AI";
/// `Software`, `Software\Microsoft\Windows\CurrentVersion` …: reads for apps not inherited.
pub const SOFTWARE: &str = "O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;;KR;;;AC)(A;;KR;;;<RR>)S:AI";
/// `Keyboard Layout` (owner BA, no SACL).
pub const KEYBOARD_LAYOUT: &str = "{control=0x9804}O:BAG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)";
/// Inherited from the Default hive, owner SYSTEM, with app reads (`Control Panel\…`).
pub const INH_SY_APPS: &str = "O:SYG:SYD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)(A;OICIID;KR;;;AC)(A;OICIID;KR;;;<RR>)S:AI";
/// Inherited, owner SYSTEM, `AC` only (`AppEvents\…`).
pub const INH_SY_AC: &str = "O:SYG:SYD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)(A;OICIID;KR;;;AC)S:AI";
/// Inherited, owner SYSTEM, the four classic ACEs (`Console`, `Software\…`).
pub const INH_SY: &str =
    "O:SYG:SYD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)S:AI";
/// Inherited, owner and group Administrators (Win7-era Default hive keys).
pub const INH_BA: &str =
    "O:BAG:BAD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)";
/// Created by the user at run time: explicit copies, owner the user, group `<U513>`.
pub const USER: &str = "{control=0x8804}O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)";
/// Created by the user under a key with app reads.
pub const USER_APPS: &str = "{control=0x8804}O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)";
/// Created by a process running as SYSTEM (installers): explicit, owner SYSTEM.
pub const SYSTEM_CREATED: &str = "{control=0x8804}O:SYG:SYD:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)";
/// Created by an elevated installer: owner Administrators, group `<U513>`.
pub const ADMIN_CREATED: &str = "{control=0x8804}O:BAG:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)";
/// `Authentication\LogonUI`: protected, read for three service SIDs.
pub const LOGONUI: &str = "{control=0x9804}O:<USER>G:<U513>D:P(A;OICI;KA;;;<USER>)(A;OICI;KR;;;S-1-5-80-2676549577-1911656217-2625096541-4178041876-1366760775)(A;OICI;KR;;;S-1-5-80-2586557155-168560303-1373426920-983201488-1499765686)(A;OICI;KR;;;S-1-5-80-410965207-2550896871-1717734767-2321332215-3755966139)(A;OICI;KA;;;BA)";
/// `DeviceAccess\Global\…`: the machine's DefaultAccount (-503) and a capability.
pub const DEVICE_ACCESS: &str = "{control=0x8804}O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;<M503>)(A;OICI;KA;;;SY)(A;OICI;KA;;;LS)(A;OICI;KA;;;S-1-15-3-1024-3167453650-624722384-889205278-321484983-714554697-3592933102-807660695-1632717421)";
/// `UserChoice`: a deny of KEY_SET_VALUE to the user first, then inherited ACEs.
pub const USER_CHOICE: &str = "{control=0x8c04}O:<USER>G:<U513>D:AI(D;;DC;;;<USER>)(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)(A;OICIID;KR;;;AC)(A;OICIID;KR;;;<RR>)";
/// IE `User Preferences` / `Approved Extensions`: the same deny without app reads.
pub const IE_DENY: &str = "{control=0x8c04}O:<USER>G:<U513>D:AI(D;;DC;;;<USER>)(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)";
/// `CloudStore\Store\Cache\DefaultAccount\…`: a capability with KA, Low label.
pub const CLOUD_STORE: &str = "O:<USER>G:<U513>D:(A;CI;KA;;;S-1-15-3-1024-3035980445-2343077072-2039973919-2593655016-2336600711-3402322490-2613491542-1611519126)(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)S:AI(ML;;NW;;;LW)";
/// IE keys writable at Low integrity (`LowMic`, `GPU`, `IntelliForms`…).
pub const IE_LOW: &str = "O:<USER>G:<U513>D:(A;OICI;CCDCLCSWRPRC;;;S-1-15-3-4096)(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)S:(ML;OICI;NW;;;LW)";
/// `Software\AppDataLow`: inherited DACL, explicit Low label.
pub const APPDATA_LOW: &str = "O:SYG:SYD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)S:(ML;OICI;NW;;;LW)";
/// Below `Software\AppDataLow`: user-created, label inherited.
pub const APPDATA_LOW_CHILD: &str = "O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)S:AI(ML;OICIID;NW;;;LW)";
/// `Group Policy`: SYSTEM's, the user may read; generic rights for children (`IO`).
pub const GP_ROOT: &str = "{control=0x8804}O:SYG:SYD:(A;;KA;;;SY)(A;;KA;;;BA)(A;;KR;;;<USER>)(A;OICIIO;GR;;;<USER>)(A;OICIIO;GA;;;SY)(A;OICIIO;GA;;;BA)";
/// `Group Policy\GroupMembership`, `History`.
pub const GP_CHILD: &str = "{control=0x8804}O:SYG:SYD:(A;;KR;;;<USER>)(A;OICIIO;GR;;;<USER>)(A;;KA;;;SY)(A;OICIIO;GA;;;SY)(A;;KA;;;BA)(A;OICIIO;GA;;;BA)";
/// `Software\Policies`: protected, the user may only read.
pub const POLICIES: &str = "O:SYG:SYD:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;<USER>)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)S:AI";
/// Below `Software\Policies`.
pub const POLICIES_CHILD: &str = "O:SYG:SYD:(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)(A;OICIID;KR;;;<USER>)(A;OICIID;KR;;;AC)(A;OICIID;KR;;;<RR>)S:AI";
/// Owned by TrustedInstaller (`Software\Microsoft\Pim`, `Poom`).
pub const TI_OWNED: &str = "O:<TI>G:<TI>D:(A;CI;KA;;;S-1-15-3-1024-3324773698-3647103388-1207114580-2173246572-4287945184-2279574858-157813651-603457015)(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)S:AI";
/// `Software\Microsoft\EventSystem`: the EventSystem service SID, creator-owner.
pub const EVENT_SYSTEM: &str = "{control=0x9c04}O:SYG:SYD:PAI(A;CI;KA;;;BA)(A;CIIO;KA;;;CO)(A;CI;KA;;;<USER>)(A;CI;KA;;;SY)(A;CI;KR;;;S-1-5-80-1772571935-1555666882-3369284645-1675012128-2386634627)";
/// `SystemCertificates\Root\ProtectedRoots`: CryptSvc's, High label.
pub const PROTECTED_ROOTS: &str = "O:<USER>G:<U513>D:(A;CI;KA;;;S-1-5-80-242729624-280608522-2219052887-3187409060-2225943459)(A;CI;KR;;;<USER>)S:(ML;;NW;;;HI)";
/// `Software\Microsoft\SystemCertificates`: protected, a capability reads.
pub const SYSTEM_CERTS: &str = "{control=0x9804}O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;S-1-15-3-9)";
/// `Software\Microsoft\Windows\CurrentVersion\Search`, owned by TrustedInstaller.
pub const SEARCH: &str = "O:<TI>G:<TI>D:(A;CI;KR;;;S-1-15-3-1024-3275915203-3073501320-309536135-1674744297-1740689076-4251230105-810187298-4091229748)(A;CI;KA;;;S-1-15-3-1024-1216833578-114521899-3977640588-1343180512-2505059295-473916851-3379430393-3088591068)(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)S:AI";
/// Keys below `Search` the user created: Low label.
pub const SEARCH_CHILD: &str = "O:<USER>G:<U513>D:(A;CI;KR;;;S-1-15-3-1024-3275915203-3073501320-309536135-1674744297-1740689076-4251230105-810187298-4091229748)(A;CI;KA;;;S-1-15-3-1024-1216833578-114521899-3977640588-1343180512-2505059295-473916851-3379430393-3088591068)(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)S:AI(ML;;NW;;;LW)";

/// UsrClass root `<SID>_Classes`.
pub const UC_ROOT: &str = "O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)";
/// Every class key the user's session created.
pub const UC_USER: &str = "O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;OICI;KR;;;AC)(A;OICI;KR;;;<RR>)";
/// `Local Settings`: protected, app reads not inherited.
pub const UC_LOCAL_SETTINGS: &str = "O:SYG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;;KR;;;AC)(A;;KR;;;<RR>)";
/// `Local Settings\MuiCache`, `ImmutableMuiCache`, `MrtCache`.
pub const UC_CACHE: &str =
    "O:<USER>G:<U513>D:(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)";
/// `AppModel\Repository\…`.
pub const UC_REPOSITORY: &str = "O:SYG:SYD:(A;OICI;KA;;;SY)(A;OICI;KR;;;LS)(A;OICI;KR;;;NS)(A;OICI;KR;;;CO)(A;OICI;KR;;;BA)(A;OICI;KR;;;<USER>)";
/// `AppModel\SystemAppData\<package>`.
pub const UC_SYSTEM_APP_DATA: &str = "O:SYG:SYD:PAI(A;;KA;;;SY)(A;OICIIO;KA;;;CO)(A;OICI;KA;;;SY)(A;OICI;KA;;;<USER>)(A;OICI;KA;;;BA)";
/// `AppContainer\Mappings\<AC>` (template: `<AC>` is the package's SID).
pub const UC_MAPPING: &str = "O:<USER>G:<USER>D:(A;OICI;KA;;;SY)(A;OICI;KR;;;CO)(A;OICI;KA;;;BA)(A;OICI;KA;;;<USER>)(A;OICI;KR;;;<AC>)";
/// `AppContainer\Storage\<package>` (template: `<AC>`), Low label.
pub const UC_STORAGE: &str = "O:<USER>G:<U513>D:AI(A;OICI;KA;;;CO)(A;OICI;KA;;;SY)(A;OICI;KA;;;<USER>)(A;OICI;KA;;;<AC>)(A;OICI;KA;;;BA)S:(ML;OICI;NW;;;LW)";
/// The `Permissions` binary descriptor of packaged COM servers (Win8-style, §4.3).
pub const PERMISSIONS_VALUE: &str = "O:S-1-5-10G:BAD:(A;;0xb;;;SY)(A;;0xb;;;BA)(A;;0xb;;;LS)(A;;0xb;;;NS)(A;;0xb;;;<USER>)(A;;0xb;;;<AC>)S:(ML;;0x4;;;LW)";
