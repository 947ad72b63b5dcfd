; probe.asm — one memory access that may page-fault, at CPL0 or CPL3, for the
; paging guests (linked by those that list it in SOURCES; not part of every guest).
;
;   u32 probe_k(u32 op, u32 va, u32 val)   at CPL0
;   probe_u                                 CPL3 entry for user_call(); reads
;                                           probe_op / probe_va / probe_val
; op: PROBE_READ  returns the dword at va
;     PROBE_WRITE stores val at va, returns PROBE_OK
;     PROBE_FETCH calls va (code there must return a value in EAX with RET)
; A #PF handler (the guest's) makes a faulting probe return PROBE_FAULT:
; at CPL0 by resuming at probe_recover (which restores the stack), at CPL3 by
; user_return(PROBE_FAULT). See paging.h.
bits 32
section .text
global probe_k, probe_u, probe_recover
global probe_op, probe_va, probe_val

PROBE_FAULT equ 0xFA017EEE
PROBE_OK    equ 0x0C0FFEE0

probe_k:
        push ebx
        push esi
        push edi
        push ebp
        mov [probe_saved_esp], esp
        mov eax, [esp + 20]         ; op
        mov edx, [esp + 24]         ; va
        mov ecx, [esp + 28]         ; val
        cmp eax, 1
        je .write
        cmp eax, 2
        je .fetch
        mov eax, [edx]
        jmp .out
.write: mov [edx], ecx
        mov eax, PROBE_OK
        jmp .out
.fetch: call edx
.out:   pop ebp
        pop edi
        pop esi
        pop ebx
        ret
probe_recover:
        mov esp, [probe_saved_esp]
        mov eax, PROBE_FAULT
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; CPL3: same operations on probe_op/probe_va/probe_val, result through INT 0x80.
probe_u:
        mov eax, [probe_op]
        mov edx, [probe_va]
        mov ecx, [probe_val]
        cmp eax, 1
        je .write
        cmp eax, 2
        je .fetch
        mov eax, [edx]
        int 0x80
.write: mov [edx], ecx
        mov eax, PROBE_OK
        int 0x80
.fetch: call edx
        int 0x80

section .bss
align 4
probe_saved_esp: resd 1
probe_op: resd 1
probe_va: resd 1
probe_val: resd 1
section .note.GNU-stack noalloc noexec nowrite progbits
