//! Callbacks run on the caller's thread and may call back into s3os without deadlocking.

mod support;

use std::ffi::{c_char, c_int, c_void, CStr};

use s3os::capi::*;
use support::*;

struct Reentry {
    store: *mut s3os_store,
    sizes: Vec<u64>,
    caller: std::thread::ThreadId,
    same_thread: bool,
}

unsafe extern "C" fn size_during_progress(
    _done: u64,
    _total: u64,
    user_data: *mut c_void,
) -> c_int {
    let state = unsafe { &mut *(user_data as *mut Reentry) };
    state.same_thread &= std::thread::current().id() == state.caller;
    let mut size = 0;
    let status = unsafe { s3os_object_size(state.store, c("other").as_ptr(), &mut size) };
    assert_eq!(status, s3os_status::S3OS_OK, "{}", last_error());
    state.sizes.push(size);
    0
}

unsafe extern "C" fn delete_while_listing(
    name: *const c_char,
    _size: u64,
    user_data: *mut c_void,
) -> c_int {
    let state = unsafe { &mut *(user_data as *mut Reentry) };
    let status = unsafe { s3os_delete_object(state.store, name) };
    assert_eq!(
        status,
        s3os_status::S3OS_OK,
        "{:?}: {}",
        unsafe { CStr::from_ptr(name) },
        last_error()
    );
    state.sizes.push(0);
    0
}

#[test]
fn progress_and_list_callbacks_can_call_into_s3os() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("reentry");
    store
        .upload("other", &write_file(&dir, "other", b"12345"))
        .unwrap();
    let source = write_file(&dir, "big", &pattern(12 * MIB, 1));
    let mut state = Reentry {
        store: store.0,
        sizes: Vec::new(),
        caller: std::thread::current().id(),
        same_thread: true,
    };
    let user_data = &mut state as *mut Reentry as *mut c_void;
    for status in [
        unsafe {
            s3os_upload_file(
                store.0,
                c("big").as_ptr(),
                c(source.to_str().unwrap()).as_ptr(),
                Some(size_during_progress),
                user_data,
            )
        },
        unsafe {
            s3os_download_file(
                store.0,
                c("big").as_ptr(),
                c(dir.join("big.down").to_str().unwrap()).as_ptr(),
                false,
                Some(size_during_progress),
                user_data,
            )
        },
    ] {
        assert_eq!(status, s3os_status::S3OS_OK, "{}", last_error());
    }
    assert!(
        state.sizes.len() >= 2 && state.sizes.iter().all(|&s| s == 5),
        "{:?}",
        state.sizes
    );
    assert!(
        state.same_thread,
        "callbacks must run on the calling thread"
    );

    state.sizes.clear();
    let status = unsafe {
        s3os_list_objects(
            store.0,
            std::ptr::null(),
            Some(delete_while_listing),
            user_data,
        )
    };
    assert_eq!(status, s3os_status::S3OS_OK, "{}", last_error());
    assert_eq!(state.sizes.len(), 2);
    assert_eq!(store.list(None).unwrap(), vec![]);
}

#[test]
fn a_list_callback_can_stop_early() {
    unsafe extern "C" fn stop_after_two(_: *const c_char, _: u64, user_data: *mut c_void) -> c_int {
        let seen = unsafe { &mut *(user_data as *mut u32) };
        *seen += 1;
        c_int::from(*seen == 2)
    }
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("stop");
    let file = write_file(&dir, "f", b"x");
    for name in ["a", "b", "c", "d"] {
        store.upload(name, &file).unwrap();
    }
    let mut seen = 0u32;
    let status = unsafe {
        s3os_list_objects(
            store.0,
            c("").as_ptr(),
            Some(stop_after_two),
            &mut seen as *mut u32 as *mut c_void,
        )
    };
    assert_eq!(status, s3os_status::S3OS_OK);
    assert_eq!(seen, 2);
}

#[test]
fn a_failure_inside_a_callback_leaves_no_message_behind_a_success() {
    // The message of a failing call made from a callback is the last error until the outer
    // call returns; once it returns S3OS_OK, there is no error.
    unsafe extern "C" fn fail_inside(_done: u64, _total: u64, user_data: *mut c_void) -> c_int {
        let store = user_data as *mut s3os_store;
        let mut size = 0;
        let status = unsafe { s3os_object_size(store, c("missing").as_ptr(), &mut size) };
        assert_eq!(status, s3os_status::S3OS_NOT_FOUND);
        assert!(!last_error().is_empty());
        0
    }
    unsafe extern "C" fn fail_while_listing(
        _name: *const c_char,
        _size: u64,
        user_data: *mut c_void,
    ) -> c_int {
        unsafe { fail_inside(0, 0, user_data) }
    }
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("reentrant-error");
    let source = write_file(&dir, "source", &pattern(MIB, 2));
    let status = unsafe {
        s3os_upload_file(
            store.0,
            c("object").as_ptr(),
            c(source.to_str().unwrap()).as_ptr(),
            Some(fail_inside),
            store.0 as *mut c_void,
        )
    };
    assert_eq!(status, s3os_status::S3OS_OK);
    assert_eq!(last_error(), "", "a callback's failure outlived the upload");
    let status = unsafe {
        s3os_list_objects(
            store.0,
            std::ptr::null(),
            Some(fail_while_listing),
            store.0 as *mut c_void,
        )
    };
    assert_eq!(status, s3os_status::S3OS_OK);
    assert_eq!(
        last_error(),
        "",
        "a callback's failure outlived the listing"
    );
}
