; demo.asm — Umbra's built-in demo guest: what `umbra` with no arguments runs.
;
; A Multiboot v1 kernel (spec 0.6.96) as a flat binary loaded at 1 MiB with
; the a.out kludge (header flag bit 16), so it needs no ELF tooling and boots
; the same way under Umbra and under qemu-system-i386 -kernel.  It prints, on
; COM1 (polling LSR.THRE before every byte, as a real 16550 needs), a banner,
; the CPU's CPUID facts, the memory the loader reported, and the result of a
; small integer self-check; then writes 0 (all passed) or 1 to the
; isa-debug-exit port 0xf4, which ends the emulator with status 1 or 3.
;
; Everything is 32-bit flat protected mode as Multiboot hands it over; the
; code never enables interrupts, so it needs no IDT.

bits 32
org 0x100000

MB_MAGIC      equ 0x1BADB002
MB_FLAGS      equ 0x00010002          ; bit 1: memory info, bit 16: a.out kludge
BOOT_MAGIC    equ 0x2BADB002
COM1          equ 0x3F8
DEBUG_EXIT    equ 0xF4
STACK_SIZE    equ 0x4000

image_start:
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)
    dd mb_header                      ; header_addr
    dd image_start                    ; load_addr
    dd load_end                       ; load_end_addr
    dd bss_end                        ; bss_end_addr
    dd entry                          ; entry_addr

entry:
    cli
    cld
    mov esp, stack_top
    mov [boot_magic], eax
    mov [boot_info], ebx
    call serial_init

    mov esi, s_banner
    call puts

    call show_cpu
    call show_memory
    call self_check                   ; eax = failures

    test eax, eax
    setnz al
    mov dx, DEBUG_EXIT
    out dx, al
.halt:                                ; only reached without a debug-exit device
    cli
    hlt
    jmp .halt

; ---------------------------------------------------------------- serial --

serial_init:
    mov dx, COM1 + 1                  ; IER: no interrupts
    xor al, al
    out dx, al
    mov dx, COM1 + 3                  ; LCR: DLAB on to set the divisor
    mov al, 0x80
    out dx, al
    mov dx, COM1                      ; divisor 1: 115200 baud
    mov al, 1
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3                  ; 8N1, DLAB off
    mov al, 0x03
    out dx, al
    mov dx, COM1 + 2                  ; FIFOs on and cleared
    mov al, 0xC7
    out dx, al
    mov dx, COM1 + 4                  ; DTR, RTS
    mov al, 0x03
    out dx, al
    ret

; al = byte.  Waits for THRE; gives up after a bounded spin so a missing or
; wedged UART cannot hang the guest forever.
putc:
    push ecx
    push edx
    push eax
    mov ecx, 1000000
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jnz .ready
    dec ecx
    jnz .wait
.ready:
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    pop ecx
    ret

; esi = NUL-terminated string
puts:
    push eax
    push esi
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop esi
    pop eax
    ret

; esi = buffer, ecx = length
putn:
    push eax
    push ecx
    push esi
    jecxz .done
.next:
    lodsb
    call putc
    loop .next
.done:
    pop esi
    pop ecx
    pop eax
    ret

; eax = unsigned value, printed in decimal
putdec:
    pushad
    mov ebx, 10
    xor ecx, ecx
.div:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz .div
.out:
    pop eax
    add al, '0'
    call putc
    loop .out
    popad
    ret

; eax = value, printed as 0x + 8 hex digits
puthex:
    pushad
    mov ebx, eax
    mov al, '0'
    call putc
    mov al, 'x'
    call putc
    mov ecx, 8
.digit:
    rol ebx, 4
    mov eax, ebx
    and eax, 0xF
    mov al, [hexdigits + eax]
    call putc
    loop .digit
    popad
    ret

newline:
    push esi
    mov esi, s_nl
    call puts
    pop esi
    ret

; ---------------------------------------------------------------- CPUID --

show_cpu:
    ; CPUID exists iff EFLAGS.ID can be toggled.
    pushfd
    pop eax
    mov ecx, eax
    xor eax, 0x200000
    push eax
    popfd
    pushfd
    pop eax
    push ecx
    popfd
    xor eax, ecx
    test eax, 0x200000
    jnz .have_cpuid
    mov esi, s_nocpuid
    jmp puts

.have_cpuid:
    xor eax, eax
    cpuid
    mov [max_leaf], eax
    mov [vendor], ebx
    mov [vendor + 4], edx
    mov [vendor + 8], ecx
    mov esi, s_cpu
    call puts
    mov esi, vendor
    mov ecx, 12
    call putn
    cmp dword [max_leaf], 1
    jb .brand

    mov eax, 1
    cpuid
    mov [sig], eax
    mov [feat_ecx], ecx
    mov [feat_edx], edx
    ; family, with the extended family added for family 15
    mov ebx, eax
    shr ebx, 8
    and ebx, 0xF
    cmp ebx, 0xF
    jne .fam_done
    mov ecx, eax
    shr ecx, 20
    and ecx, 0xFF
    add ebx, ecx
.fam_done:
    mov esi, s_family
    call puts
    push eax
    mov eax, ebx
    call putdec
    pop eax
    ; model, with the extended model for families 6 and 15
    mov ecx, eax
    shr ecx, 4
    and ecx, 0xF
    cmp ebx, 6
    je .ext_model
    cmp ebx, 15
    jb .model_done
.ext_model:
    mov edx, eax
    shr edx, 12
    and edx, 0xF0
    add ecx, edx
.model_done:
    mov esi, s_model
    call puts
    push eax
    mov eax, ecx
    call putdec
    pop eax
    mov esi, s_stepping
    call puts
    and eax, 0xF
    call putdec
    call newline

    mov esi, s_feat_edx
    call puts
    mov eax, [feat_edx]
    mov esi, names_edx
    call put_flags
    call newline
    mov esi, s_feat_ecx
    call puts
    mov eax, [feat_ecx]
    mov esi, names_ecx
    call put_flags
    call newline

.brand:
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000004
    jb .no_brand
    cmp eax, 0x8000FFFF               ; a CPU without extended leaves echoes garbage
    ja .no_brand
    mov edi, brand
    mov eax, 0x80000002
.leaf:
    push eax
    cpuid
    stosd
    mov eax, ebx
    stosd
    mov eax, ecx
    stosd
    mov eax, edx
    stosd
    pop eax
    inc eax
    cmp eax, 0x80000005
    jb .leaf
    mov byte [brand + 48], 0
    mov esi, brand
.skip:                                ; Intel pads the brand string on the left
    cmp byte [esi], ' '
    jne .put_brand
    inc esi
    jmp .skip
.put_brand:
    push esi
    mov esi, s_brand
    call puts
    pop esi
    call puts
    call newline
.no_brand:
    ret

; eax = feature bits, esi = table of 32 NUL-terminated names ("" = unnamed)
put_flags:
    pushad
    mov ebx, eax
    xor ecx, ecx
.bit:
    bt ebx, ecx
    jnc .skip
    cmp byte [esi], 0
    je .skip
    mov al, ' '
    call putc
    call puts
.skip:
.to_next:                             ; advance esi past this name
    lodsb
    test al, al
    jnz .to_next
    inc ecx
    cmp ecx, 32
    jb .bit
    popad
    ret

; --------------------------------------------------------------- memory --

show_memory:
    cmp dword [boot_magic], BOOT_MAGIC
    je .multiboot
    mov esi, s_nomb
    call puts
    mov eax, [boot_magic]
    call puthex
    jmp newline

.multiboot:
    mov ebx, [boot_info]
    test dword [ebx], 1               ; mem_lower / mem_upper valid
    jz .no_mem
    mov esi, s_mem
    call puts
    mov eax, [ebx + 4]
    call putdec
    mov esi, s_mem_lower
    call puts
    mov eax, [ebx + 8]
    call putdec
    mov esi, s_mem_upper
    call puts
    mov eax, [ebx + 8]                ; total MiB, rounded up: a BIOS keeps some at the top
    add eax, 1024 + 1023
    shr eax, 10
    call putdec
    mov esi, s_mem_total
    call puts

.no_mem:
    test dword [ebx], 1 << 6          ; memory map
    jz .no_mmap
    mov esi, [ebx + 48]               ; mmap_addr
    mov edi, esi
    add edi, [ebx + 44]               ; mmap_length
    xor ecx, ecx                      ; entries
    xor edx, edx                      ; available KiB
.entry:
    cmp esi, edi
    jae .mmap_done
    inc ecx
    cmp dword [esi + 20], 1
    jne .next_entry
    mov eax, [esi + 12]               ; length, low dword (RAM < 4 GiB)
    shr eax, 10
    add edx, eax
.next_entry:
    add esi, [esi]
    add esi, 4
    jmp .entry
.mmap_done:
    mov esi, s_mmap
    call puts
    mov eax, ecx
    call putdec
    mov esi, s_mmap_avail
    call puts
    mov eax, edx
    call putdec
    mov esi, s_kib
    call puts

.no_mmap:
    test dword [ebx], 1 << 2          ; command line
    jz .no_cmdline
    mov esi, s_cmdline
    call puts
    mov esi, [ebx + 16]
    call puts
    call newline
.no_cmdline:
    test dword [ebx], 1 << 9          ; boot loader name
    jz .done
    mov esi, s_loader
    call puts
    mov esi, [ebx + 64]
    call puts
    call newline
.done:
    ret

; ----------------------------------------------------------- self-check --

; CHECK name: compare eax with the expected value, count and report.
%macro CHECK 2
    mov esi, %1
    mov edx, %2
    call check_result
%endmacro

check_result:                         ; eax = got, edx = expected, esi = name
    inc dword [checks]
    cmp eax, edx
    je .ok
    inc dword [failures]
    push esi
    mov esi, s_failed
    call puts
    pop esi
    call puts
    push esi
    mov esi, s_got
    call puts
    call puthex
    mov esi, s_expected
    call puts
    mov eax, edx
    call puthex
    call newline
    pop esi
.ok:
    ret

self_check:
    ; sum 1..1000
    xor eax, eax
    mov ecx, 1000
.sum:
    add eax, ecx
    loop .sum
    CHECK n_sum, 500500

    mov eax, 12345
    mov ebx, 6789
    mul ebx
    CHECK n_mul, 83810205

    mov eax, -7
    imul eax, eax, 6
    CHECK n_imul, -42

    mov eax, 0xFFFFFFFF               ; 64-bit product, high half
    mov ebx, eax
    mul ebx
    push eax
    mov eax, edx
    CHECK n_mul64hi, 0xFFFFFFFE
    pop eax
    CHECK n_mul64lo, 1

    mov eax, 1000000007
    xor edx, edx
    mov ebx, 97
    div ebx
    push edx
    CHECK n_div, 10309278
    pop eax
    CHECK n_mod, 41

    mov eax, -1000                    ; idiv rounds toward zero
    cdq
    mov ebx, 7
    idiv ebx
    CHECK n_idiv, -142

    mov eax, 1                        ; 12!
    mov ecx, 12
.fact:
    imul eax, ecx
    loop .fact
    CHECK n_fact, 479001600

    mov eax, 1071                     ; Euclid
    mov ebx, 462
.gcd:
    xor edx, edx
    div ebx
    mov eax, ebx
    mov ebx, edx
    test ebx, ebx
    jnz .gcd
    CHECK n_gcd, 21

    mov eax, 0x12345678
    rol eax, 8
    CHECK n_rol, 0x34567812
    mov eax, -256
    sar eax, 4
    CHECK n_sar, -16
    mov eax, 0x12345678
    bswap eax
    CHECK n_bswap, 0x78563412
    mov ebx, 0x00F00000
    bsr eax, ebx
    CHECK n_bsr, 23

    mov eax, 0xFFFFFFFF               ; 64-bit add with carry: 0x1_FFFFFFFF + 1
    mov edx, 1
    add eax, 1
    adc edx, 0
    mov eax, edx
    CHECK n_adc, 2

    xor eax, eax                      ; signed vs unsigned compare
    mov ebx, -1
    cmp ebx, 1
    setl al
    setb ah
    CHECK n_setcc, 0x0001

    mov esi, s_crc_input              ; rep movsb, then repe cmpsb
    mov edi, scratch
    mov ecx, 9
    rep movsb
    mov esi, s_crc_input
    mov edi, scratch
    mov ecx, 9
    repe cmpsb
    setz al
    movzx eax, al
    CHECK n_string, 1

    mov esi, scratch                  ; CRC-32 (IEEE, reflected) of "123456789"
    mov ecx, 9
    mov eax, 0xFFFFFFFF
.crc_byte:
    xor al, [esi]
    inc esi
    mov ebx, 8
.crc_bit:
    shr eax, 1
    jnc .no_poly
    xor eax, 0xEDB88320
.no_poly:
    dec ebx
    jnz .crc_bit
    loop .crc_byte
    not eax
    CHECK n_crc, 0xCBF43926

    mov esi, s_selfcheck
    call puts
    mov eax, [checks]
    sub eax, [failures]
    call putdec
    mov al, '/'
    call putc
    mov eax, [checks]
    call putdec
    mov esi, s_passed
    cmp dword [failures], 0
    je .report
    mov esi, s_failed_end
.report:
    call puts
    mov eax, [failures]
    ret

; ----------------------------------------------------------------- data --

s_banner:     db 13, 10, "Umbra demo guest", 13, 10
              db "================", 13, 10, 0
s_nl:         db 13, 10, 0
s_nocpuid:    db "CPU: no CPUID instruction", 13, 10, 0
s_cpu:        db "CPU: ", 0
s_family:     db ", family ", 0
s_model:      db ", model ", 0
s_stepping:   db ", stepping ", 0
s_brand:      db "CPU brand: ", 0
s_feat_edx:   db "Features:", 0
s_feat_ecx:   db "Features (ecx):", 0
s_nomb:       db "Not booted by a Multiboot loader: EAX was ", 0
s_mem:        db "Memory: ", 0
s_mem_lower:  db " KiB low, ", 0
s_mem_upper:  db " KiB high (", 0
s_mem_total:  db " MiB)", 13, 10, 0
s_mmap:       db "Memory map: ", 0
s_mmap_avail: db " entries, available ", 0
s_kib:        db " KiB", 13, 10, 0
s_cmdline:    db "Command line: ", 0
s_loader:     db "Boot loader: ", 0
s_failed:     db "  FAILED: ", 0
s_got:        db ": got ", 0
s_expected:   db ", expected ", 0
s_selfcheck:  db "Self-check: ", 0
s_passed:     db " passed", 13, 10, 0
s_failed_end: db " passed -- FAILED", 13, 10, 0
s_crc_input:  db "123456789"
hexdigits:    db "0123456789ABCDEF"

n_sum:     db "sum", 0
n_mul:     db "mul", 0
n_imul:    db "imul", 0
n_mul64hi: db "mul64 high", 0
n_mul64lo: db "mul64 low", 0
n_div:     db "div", 0
n_mod:     db "mod", 0
n_idiv:    db "idiv", 0
n_fact:    db "factorial", 0
n_gcd:     db "gcd", 0
n_rol:     db "rol", 0
n_sar:     db "sar", 0
n_bswap:   db "bswap", 0
n_bsr:     db "bsr", 0
n_adc:     db "adc", 0
n_setcc:   db "setcc", 0
n_string:  db "movs/cmps", 0
n_crc:     db "crc32", 0

; CPUID.1:EDX and ECX feature names, bit 0 first ("" = reserved/unnamed).
names_edx:
    db "fpu",0, "vme",0, "de",0, "pse",0, "tsc",0, "msr",0, "pae",0, "mce",0
    db "cx8",0, "apic",0, "",0, "sep",0, "mtrr",0, "pge",0, "mca",0, "cmov",0
    db "pat",0, "pse36",0, "psn",0, "clflush",0, "",0, "ds",0, "acpi",0, "mmx",0
    db "fxsr",0, "sse",0, "sse2",0, "ss",0, "ht",0, "tm",0, "ia64",0, "pbe",0
names_ecx:
    db "sse3",0, "pclmulqdq",0, "dtes64",0, "monitor",0, "ds_cpl",0, "vmx",0, "smx",0, "est",0
    db "tm2",0, "ssse3",0, "cnxt_id",0, "sdbg",0, "fma",0, "cx16",0, "xtpr",0, "pdcm",0
    db "",0, "pcid",0, "dca",0, "sse4_1",0, "sse4_2",0, "x2apic",0, "movbe",0, "popcnt",0
    db "tsc_deadline",0, "aes",0, "xsave",0, "osxsave",0, "avx",0, "f16c",0, "rdrand",0
    db "hypervisor",0

    align 4
load_end:

; Uninitialised data: zeroed by the loader (bss_end_addr), not in the file.
absolute load_end
boot_magic: resd 1
boot_info:  resd 1
max_leaf:   resd 1
sig:        resd 1
feat_ecx:   resd 1
feat_edx:   resd 1
checks:     resd 1
failures:   resd 1
vendor:     resb 12
brand:      resb 52
scratch:    resb 16
stack:      resb STACK_SIZE             ; 4-byte aligned: load_end is
stack_top:
bss_end:
