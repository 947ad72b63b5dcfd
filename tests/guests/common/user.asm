; user.asm — run a piece of code at CPL3 and come back.
;
;   u32 user_call(void (*fn)(void), u32 user_esp, u32 eflags, u32 user_ss);
;
; saves the callee-saved registers and ESP, then IRETs to fn at CPL3 (CS=0x1B,
; DS/ES/FS/GS=0x23, SS=user_ss or 0x23 if 0). The user code ends with INT 0x80
; (a DPL3 gate the runtime installs) or faults; the ring-0 handler calls
;   void user_return(u32 value);
;   (user_use_retf / user_ds_override vary how CPL3 is entered.)
; which abandons the ring-0 stack (the TSS gives a fresh one on every entry),
; reloads the kernel segments and returns value from user_call.
bits 32
section .text
global user_call, user_return
user_call:
        push ebp
        push ebx
        push esi
        push edi
        mov [user_saved_esp], esp
        mov eax, [esp + 20]         ; fn
        mov ecx, [esp + 24]         ; user esp
        mov edx, [esp + 28]         ; eflags
        mov ebx, [esp + 32]         ; user ss
        test ebx, ebx
        jnz .ss
        mov ebx, 0x23
.ss:    push ebx
        push ecx
        cmp dword [user_use_retf], 0
        jne .retf
        push edx
        push 0x1B
        push eax
        call .segs
        iret
.retf:  push 0x1B                   ; RETF to CPL3: EFLAGS stay as they are
        push eax
        call .segs
        retf
.segs:  mov ax, 0x23
        mov fs, ax
        mov gs, ax
        mov cx, [user_ds_override]
        test cx, cx
        cmovz cx, ax
        mov ds, cx
        mov es, cx
        ret

user_return:
        mov eax, [esp + 4]
        mov cx, 0x10
        mov ds, cx
        mov es, cx
        mov fs, cx
        mov gs, cx
        mov ss, cx
        mov esp, [user_saved_esp]
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

section .bss
user_saved_esp: resd 1
global user_use_retf, user_ds_override
user_use_retf: resd 1               ; nonzero: enter with RETF instead of IRET
user_ds_override: resd 1            ; nonzero: DS/ES selector to enter with
section .note.GNU-stack noalloc noexec nowrite progbits
